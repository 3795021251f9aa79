# SPDX-License-Identifier: ISC
# Bad input for subscriptions: a flood of requests (max_pending_in) and a full roster (max_items).

import os
import sqlite3
import time

import harness
from harness import PASSWORD
from rawxmpp import NS_CLIENT, q, to_string

NS_ROSTER = 'jabber:iq:roster'
SRV = None
LIMIT = 100          # max_pending_in: the module's default
EXTRA = 15           # requests past it
SENDERS = ['fl%03d' % i for i in range(LIMIT + EXTRA)]
USERS = ('flood-t', 'full-u', 'chat-a', 'chat-b', 'c1', 'c2', 'c3', 'c4', 'c5')


def setUpModule():
    global SRV
    accounts = {u: PASSWORD for u in USERS + tuple(SENDERS)}
    SRV = harness.module_server('roster_flood', accounts=accounts,
                                modules={'roster': {'max_items': 3}, 'ping': {}})


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


def rows(user):
    return SRV.db_rows("SELECT jid, sub, ask, pending_in, pending_status, approved, listed FROM "
                       "roster_items WHERE host = 'localhost' AND username = '%s' ORDER BY jid"
                       % user)


def is_presence(ptype):
    return lambda el: el.tag == q(NS_CLIENT, 'presence') and el.get('type') == ptype


def is_push(el):
    return (el.tag == q(NS_CLIENT, 'iq') and el.get('type') == 'set' and
            el.find(q(NS_ROSTER, 'query')) is not None)


class Flood(harness.TestCase):
    def test_subscription_flood(self):
        target = 'flood-t@localhost'
        clear('flood-t', *SENDERS)
        refused = []
        with harness.Chatter(SRV):
            for i, user in enumerate(SENDERS):
                c = SRV.login(user, resource='flood')
                try:
                    c.send("<presence to='%s' type='subscribe' id='f%d'><status>from %s</status>"
                           "</presence>" % (target, i, user))
                    if i < LIMIT:
                        # kept: nothing comes back (the target is offline)
                        c.sync()
                        c.expect_no_stanza(0.05)
                    else:
                        el = c.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence'),
                                          timeout=10)
                        # to the bare JID the request came from (RFC 6121 §3.1.2 stamps it)
                        self.assertStanzaError(el, 'presence', 'wait', 'resource-constraint',
                                               frm=target, to='%s@localhost' % user,
                                               sid='f%d' % i)
                        refused.append(user)
                finally:
                    c.close()
        self.assertEqual(refused, SENDERS[LIMIT:])
        # the first LIMIT requests are stored (unlisted, pending in, with their status), no more
        self.assertEqual(rows('flood-t'), [('%s@localhost' % u, '0', '0', '1', 'from %s' % u,
                                            '0', '0') for u in SENDERS[:LIMIT]])
        for u in SENDERS[:LIMIT]:
            self.assertEqual(rows(u), [(target, '0', '1', '0', '', '0', '1')]
                             if SRV.backend == 'pgsql' else
                             [(target, '0', '1', '0', 'None', '0', '1')])
        for u in SENDERS[LIMIT:]:
            # the sender's own side keeps its request (the contact may accept it later)
            self.assertEqual(len(rows(u)), 1)
        # presented again at login, each once
        t = self.login('flood-t', presence=False)
        t.presence()
        got = {}
        while len(got) < LIMIT:
            el = t.recv_match(is_presence('subscribe'), timeout=10)
            self.assertNotIn(el.get('from'), got)
            got[el.get('from')] = el.findtext(q(NS_CLIENT, 'status'))
        self.assertEqual(got, {'%s@localhost' % u: 'from %s' % u for u in SENDERS[:LIMIT]})
        t.expect_no_stanza(0.5)
        # a repeated request of a stored one is not refused, nor delivered again
        c = self.login(SENDERS[0])
        c.send("<presence to='%s' type='subscribe' id='again'/>" % target)
        c.sync()
        c.expect_no_stanza(0.3)
        t.expect_no_stanza(0.3)
        # answering one makes room for one more
        t.send("<presence to='%s@localhost' type='unsubscribed'/>" % SENDERS[1])
        t.sync()
        late = self.login(SENDERS[LIMIT])
        late.send("<presence to='%s' type='subscribe' id='late'/>" % target)
        el = t.recv_match(is_presence('subscribe'), timeout=10)
        self.assertEqual(el.get('from'), '%s@localhost' % SENDERS[LIMIT])
        late.send("<presence to='%s' type='subscribe' id='late2'/>" % target)
        late.sync()
        self.assertEqual(len(rows('flood-t')), LIMIT)
        # and the next new one is refused again
        other = self.login(SENDERS[LIMIT + 1])
        other.send("<presence to='%s' type='subscribe' id='x'/>" % target)
        el = other.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence'), timeout=10)
        self.assertStanzaError(el, 'presence', 'wait', 'resource-constraint', frm=target,
                               to='%s@localhost' % SENDERS[LIMIT + 1], sid='x')

    def test_outbound_subscribe_full_roster(self):
        clear('full-u', 'c1', 'c2', 'c3', 'c4', 'c5')
        u = self.login('full-u')
        for c in ('c1', 'c2', 'c3'):
            self.assertResult(u.iq('set', "<query xmlns='%s'><item jid='%s@localhost'/></query>"
                                   % (NS_ROSTER, c)))
        # the roster set past max_items
        r = u.iq('set', "<query xmlns='%s'><item jid='c4@localhost'/></query>" % NS_ROSTER)
        self.assertStanzaError(r, 'iq', 'cancel', 'not-allowed')
        text = r.find(q(NS_CLIENT, 'error')).findtext(
            q('urn:ietf:params:xml:ns:xmpp-stanzas', 'text'))
        self.assertEqual(text, 'the roster is full (at most 3 items)')
        # a subscribe that would add a fourth item gets the same error, and nothing happens
        c4 = self.login('c4')
        u.send("<presence to='c4@localhost' type='subscribe' id='s4'/>")
        el = u.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence') and
                          e.get('type') == 'error', timeout=10)
        self.assertStanzaError(el, 'presence', 'cancel', 'not-allowed', to=u.jid, sid='s4')
        self.assertEqual(el.find(q(NS_CLIENT, 'error')).findtext(
            q('urn:ietf:params:xml:ns:xmpp-stanzas', 'text')), text, to_string(el))
        # so does a pre-approval, which lists the contact too
        u.send("<presence to='c5@localhost' type='subscribed' id='s5'/>")
        el = u.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence') and
                          e.get('type') == 'error', timeout=10)
        self.assertStanzaError(el, 'presence', 'cancel', 'not-allowed', to=u.jid, sid='s5')
        u.sync()
        c4.sync()
        c4.expect_no_stanza(0.3)
        self.assertEqual([r[0] for r in rows('full-u')],
                         ['c1@localhost', 'c2@localhost', 'c3@localhost'])
        self.assertEqual(rows('c4'), [])
        self.assertEqual(rows('c5'), [])
        # a subscribe to a contact already in the roster is fine
        u.send("<presence to='c1@localhost' type='subscribe' id='s1'/>")
        u.sync()
        self.assertEqual(rows('full-u')[0], ('c1@localhost', '0', '1', '0',
                                             '' if SRV.backend == 'pgsql' else 'None', '0', '1'))
        deadline = time.monotonic() + 10
        while len(rows('c1')) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(rows('c1'), [('full-u@localhost', '0', '0', '1',
                                       '' if SRV.backend == 'pgsql' else 'None', '0', '0')])
