# SPDX-License-Identifier: ISC
# Subscription stanzas sent back to back for one (user, contact) pair: no lost update.

import os
import sqlite3

import harness
from harness import PASSWORD
from rawxmpp import NS_CLIENT, q, to_string

NS_ROSTER = 'jabber:iq:roster'
SRV = None
USERS = ('race-a', 'race-b', 'race-c', 'race-d')
ROUNDS = 25


def setUpModule():
    global SRV
    SRV = harness.module_server('roster_race', accounts={u: PASSWORD for u in USERS},
                                modules={'roster': {}, 'ping': {}})


def tearDownModule():
    harness.module_teardown(SRV)


def clear(*users):
    sql = "DELETE FROM roster_items WHERE username IN (%s)" % ', '.join("'%s'" % u for u in users)
    if SRV.backend == 'sqlite':
        con = sqlite3.connect(os.path.join(SRV.tmp, 'db.sqlite'), timeout=10)
        try:
            con.execute(sql)
            con.commit()
        finally:
            con.close()
    else:
        harness.psql(harness.pg_conninfo(SRV.pg_db), sql)


def row(user, jid):
    rows = SRV.db_rows("SELECT sub, ask, pending_in, approved, listed FROM roster_items WHERE "
                       "host = 'localhost' AND username = '%s' AND jid = '%s'" % (user, jid))
    return tuple(int(v) for v in rows[0]) if rows else None


def is_push(el):
    return (el.tag == q(NS_CLIENT, 'iq') and el.get('type') == 'set' and
            el.find(q(NS_ROSTER, 'query')) is not None)


def is_sub(ptype):
    return lambda el: el.tag == q(NS_CLIENT, 'presence') and el.get('type') == ptype


def push_item(el):
    it = el.find(q(NS_ROSTER, 'query')).find(q(NS_ROSTER, 'item'))
    return (it.get('jid'), it.get('subscription'), it.get('ask'))


class Race(harness.TestCase):
    def pushes(self, c, n):
        out = []
        for _ in range(n):
            el = c.recv_match(is_push, timeout=10)
            c.send("<iq type='result' id='%s'/>" % el.get('id'))
            out.append(push_item(el))
        return out

    def roster_client(self, user):
        c = self.login(user)
        self.assertResult(c.iq('get', "<query xmlns='%s'/>" % NS_ROSTER))
        return c

    def establish_both(self, a, b, ua, ub):
        """From nothing to 'both' both ways, one stanza at a time."""
        ja, jb = ua + '@localhost', ub + '@localhost'
        a.send("<presence to='%s' type='subscribe'/>" % jb)
        self.assertEqual(self.pushes(a, 1), [(jb, 'none', 'subscribe')])
        b.recv_match(is_sub('subscribe'), timeout=10)
        b.send("<presence to='%s' type='subscribed'/>" % ja)
        self.assertEqual(self.pushes(b, 1), [(ja, 'from', None)])
        self.assertEqual(self.pushes(a, 1), [(jb, 'to', None)])
        b.send("<presence to='%s' type='subscribe'/>" % ja)
        self.assertEqual(self.pushes(b, 1), [(ja, 'from', 'subscribe')])
        # the request joins a's listed item: pushed, unchanged to the client, before it
        self.assertEqual(self.pushes(a, 1), [(jb, 'to', None)])
        a.recv_match(is_sub('subscribe'), timeout=10)
        a.send("<presence to='%s' type='subscribed'/>" % jb)
        self.assertEqual(self.pushes(a, 1), [(jb, 'both', None)])
        self.assertEqual(self.pushes(b, 1), [(ja, 'both', None)])
        self.assertEqual(row(ua, jb), (3, 0, 0, 0, 1))
        self.assertEqual(row(ub, ja), (3, 0, 0, 0, 1))

    def test_unsubscribe_unsubscribed_back_to_back(self):
        ua, ub = 'race-a', 'race-b'
        ja, jb = ua + '@localhost', ub + '@localhost'
        clear(ua, ub)
        a = self.roster_client(ua)
        a2 = self.login(ua)  # a second resource of a, sending at the same time
        b = self.roster_client(ub)
        for i in range(ROUNDS):
            clear(ua, ub)
            self.establish_both(a, b, ua, ub)
            if i % 2 == 0:
                # one write: the stanzas of one session are taken in order
                a.send("<presence to='%s' type='unsubscribe'/>"
                       "<presence to='%s' type='unsubscribed'/>" % (jb, jb))
            else:
                # two resources at once: no order between them, but no update may be lost
                a.send("<presence to='%s' type='unsubscribe'/>" % jb)
                a2.send("<presence to='%s' type='unsubscribed'/>" % jb)
            self.assertIn(self.pushes(a, 2), ([(jb, 'from', None), (jb, 'none', None)],
                                              [(jb, 'to', None), (jb, 'none', None)]),
                          'round %d' % i)
            self.assertIn(self.pushes(b, 2), ([(ja, 'to', None), (ja, 'none', None)],
                                              [(ja, 'from', None), (ja, 'none', None)]),
                          'round %d' % i)
            self.assertEqual(row(ua, jb), (0, 0, 0, 0, 1), 'round %d' % i)
            self.assertEqual(row(ub, ja), (0, 0, 0, 0, 1), 'round %d' % i)

    def test_roster_remove_cancels_both(self):
        # the case seen in the field: a roster remove sends unsubscribe + unsubscribed
        ua, ub = 'race-c', 'race-d'
        ja, jb = ua + '@localhost', ub + '@localhost'
        clear(ua, ub)
        a = self.roster_client(ua)
        b = self.roster_client(ub)
        for i in range(ROUNDS):
            self.establish_both(a, b, ua, ub)
            r = a.iq('set', "<query xmlns='%s'><item jid='%s' subscription='remove'/></query>"
                     % (NS_ROSTER, jb))
            self.assertResult(r)
            self.assertEqual(self.pushes(a, 1), [(jb, 'remove', None)], 'round %d' % i)
            self.assertEqual(self.pushes(b, 2), [(ja, 'to', None), (ja, 'none', None)],
                             'round %d' % i)
            self.assertIsNone(row(ua, jb), 'round %d' % i)
            self.assertEqual(row(ub, ja), (0, 0, 0, 0, 1), 'round %d' % i)
            # back to nothing on b's side too, for the next round
            self.assertResult(b.iq('set', "<query xmlns='%s'><item jid='%s' "
                                   "subscription='remove'/></query>" % (NS_ROSTER, ja)))
            self.assertEqual(self.pushes(b, 1), [(ja, 'remove', None)])

    def test_subscribed_subscribe_back_to_back(self):
        # a answers b's request and asks back in one write: b gains 'to' AND keeps the request
        ua, ub = 'race-a', 'race-b'
        ja, jb = ua + '@localhost', ub + '@localhost'
        clear(ua, ub)
        a = self.roster_client(ua)
        a2 = self.login(ua)
        b = self.roster_client(ub)
        for i in range(ROUNDS):
            clear(ua, ub)
            self.assertIsNone(row(ua, jb))
            self.assertIsNone(row(ub, ja))
            b.send("<presence to='%s' type='subscribe'/>" % ja)
            self.assertEqual(self.pushes(b, 1), [(ja, 'none', 'subscribe')], 'round %d' % i)
            a.recv_match(is_sub('subscribe'), timeout=10)
            self.assertEqual(row(ua, jb), (0, 0, 1, 0, 0), 'round %d' % i)
            if i % 2 == 0:
                a.send("<presence to='%s' type='subscribed'/>"
                       "<presence to='%s' type='subscribe'/>" % (jb, jb))
            else:
                a.send("<presence to='%s' type='subscribed'/>" % jb)
                a2.send("<presence to='%s' type='subscribe'/>" % jb)
            # either order is valid; each push is the state after one whole transition
            self.assertIn(self.pushes(a, 2),
                          ([(jb, 'from', None), (jb, 'from', 'subscribe')],
                           [(jb, 'none', 'subscribe'), (jb, 'from', 'subscribe')]),
                          'round %d' % i)
            # a request joining a listed item is pushed too (unchanged to the client)
            self.assertIn(self.pushes(b, 2),
                          ([(ja, 'to', None), (ja, 'to', None)],
                           [(ja, 'none', 'subscribe'), (ja, 'to', None)]),
                          'round %d' % i)
            b.recv_match(is_sub('subscribe'), timeout=10)
            self.assertEqual(row(ub, ja), (1, 0, 1, 0, 1), 'round %d' % i)
            self.assertEqual(row(ua, jb), (2, 1, 0, 0, 1), 'round %d' % i)
