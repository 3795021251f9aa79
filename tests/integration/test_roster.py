# SPDX-License-Identifier: ISC
# Rosters, subscriptions and presence (RFC 6121 §2-4, Appendix A) with several raw clients.

import sqlite3
import os
import time

import harness
from harness import PASSWORD, unique
from rawxmpp import NS_CLIENT, q, to_string, Timeout

NS_ROSTER = 'jabber:iq:roster'
SRV = None
USERS = ('alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank', 'ulla', 'cora')


def setUpModule():
    global SRV
    SRV = harness.module_server('roster', accounts={u: PASSWORD for u in USERS},
                                modules={'roster': {'max_items': 3}, 'ping': {}})


def tearDownModule():
    harness.module_teardown(SRV)


def db_exec(sql):
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


def is_presence(el, ptype=None):
    return el.tag == q(NS_CLIENT, 'presence') and el.get('type') == ptype


def roster_items(el):
    query = el.find(q(NS_ROSTER, 'query'))
    out = []
    for it in query.findall(q(NS_ROSTER, 'item')):
        out.append((it.get('jid'), it.get('name'), it.get('subscription'), it.get('ask'),
                    [g.text for g in it.findall(q(NS_ROSTER, 'group'))]))
    return out


def is_push(el):
    return (el.tag == q(NS_CLIENT, 'iq') and el.get('type') == 'set' and
            el.find(q(NS_ROSTER, 'query')) is not None)


def drain(c, t=0.4):
    got = []
    while True:
        try:
            got.append(c.recv(timeout=t))
        except Timeout:
            return got



class Features(harness.TestCase):
    def test_rosterver_advertised_after_auth(self):
        # RFC 6121 §2.6.1: <ver xmlns='urn:xmpp:features:rosterver'/> among the stream features
        c = SRV.client()
        self.addCleanup(c.close)
        c.start()
        self.assertIsNone(c.features.find(q('urn:xmpp:features:rosterver', 'ver')))
        self.assertEqual(c.auth_plain('alice', PASSWORD)[0], 'success')
        features = c.open_stream()
        self.assertIsNotNone(features.find(q('urn:xmpp:features:rosterver', 'ver')),
                             to_string(features))

class Base(harness.TestCase):
    def get_roster(self, c, ver=None):
        attr = '' if ver is None else " ver='%s'" % ver
        r = c.iq('get', "<query xmlns='%s'%s/>" % (NS_ROSTER, attr))
        self.assertResult(r)
        return r

    def set_item(self, c, jid, name=None, groups=(), remove=False):
        attrs = " jid='%s'" % jid
        if name is not None:
            attrs += " name='%s'" % name
        if remove:
            attrs += " subscription='remove'"
        inner = ''.join('<group>%s</group>' % g for g in groups)
        return c.iq('set', "<query xmlns='%s'><item%s>%s</item></query>"
                    % (NS_ROSTER, attrs, inner))

    def clear(self, *users):
        for u in users:
            db_exec("DELETE FROM roster_items WHERE username = '%s'" % u)


class Roster(Base):
    def test_set_get_push_versioning(self):
        self.clear('alice')
        a1 = self.login('alice', presence=False)
        a2 = self.login('alice', presence=False)
        a3 = self.login('alice', presence=False)
        r = self.get_roster(a1, ver='')
        ver0 = r.find(q(NS_ROSTER, 'query')).get('ver')
        self.get_roster(a2)
        r = self.set_item(a1, 'Romeo@Example.net', 'Romeo', ['Friends', 'Lovers'])
        self.assertResult(r)
        for c in (a1, a2):
            push = c.recv_match(is_push)
            self.assertEqual(push.get('from'), 'alice@localhost')
            self.assertEqual(push.get('to'), c.jid)
            self.assertEqual(roster_items(push),
                             [('romeo@example.net', 'Romeo', 'none', None,
                               ['Friends', 'Lovers'])])
            ver1 = push.find(q(NS_ROSTER, 'query')).get('ver')
            self.assertNotEqual(ver1, ver0)
            c.send("<iq type='result' id='%s'/>" % push.get('id'))
        a3.expect_no_stanza(0.5)  # not interested: no push
        r = self.get_roster(a1, ver='')
        self.assertEqual(r.find(q(NS_ROSTER, 'query')).get('ver'), ver1)
        self.assertEqual(roster_items(r), [('romeo@example.net', 'Romeo', 'none', None,
                                            ['Friends', 'Lovers'])])
        # current version: an empty result, no items
        r = self.get_roster(a1, ver=ver1)
        self.assertEqual(len(list(r)), 0, to_string(r))
        # update, then remove
        self.assertResult(self.set_item(a1, 'romeo@example.net', 'R', []))
        push = a2.recv_match(is_push)
        self.assertEqual(roster_items(push), [('romeo@example.net', 'R', 'none', None, [])])
        r = self.get_roster(a1, ver=ver1)
        self.assertEqual(len(roster_items(r)), 1)
        self.assertResult(self.set_item(a1, 'romeo@example.net', remove=True))
        push = a2.recv_match(is_push)
        self.assertEqual(roster_items(push), [('romeo@example.net', None, 'remove', None, [])])
        self.assertEqual(row('alice', 'romeo@example.net'), None)
        r = self.set_item(a1, 'romeo@example.net', remove=True)
        self.assertStanzaError(r, 'iq', 'cancel', 'item-not-found')

    def test_bad_sets(self):
        a = self.login('alice', presence=False)
        r = a.iq('set', "<query xmlns='%s'><item jid='x@y'/><item jid='z@y'/></query>"
                 % NS_ROSTER)
        self.assertStanzaError(r, 'iq', 'modify', 'bad-request')
        r = self.set_item(a, 'x@y', groups=['g', 'g'])
        self.assertStanzaError(r, 'iq', 'modify', 'bad-request')
        r = self.set_item(a, 'x@y', groups=[''])
        self.assertStanzaError(r, 'iq', 'modify', 'not-acceptable')
        r = a.iq('get', "<query xmlns='%s'/>" % NS_ROSTER, to='bob@localhost')
        self.assertStanzaError(r, 'iq', 'auth', 'forbidden')

    def test_max_items(self):
        self.clear('carol')
        c = self.login('carol', presence=False)
        for i in range(3):
            self.assertResult(self.set_item(c, 'c%d@example.org' % i))
        r = self.set_item(c, 'c3@example.org')
        self.assertStanzaError(r, 'iq', 'cancel', 'not-allowed')
        self.assertEqual(row('carol', 'c3@example.org'), None)
        # updating an existing item is still fine
        self.assertResult(self.set_item(c, 'c1@example.org', 'one'))
        self.assertEqual(len(SRV.db_rows("SELECT jid FROM roster_items WHERE "
                                         "username = 'carol'")), 3)


class Presence(Base):
    def befriend(self, u1, u2):
        """Rows for a mutual subscription, written directly."""
        for a, b in ((u1, u2), (u2, u1)):
            db_exec("INSERT INTO roster_items (host, username, jid, sub) VALUES "
                    "('localhost', '%s', '%s@localhost', 3)" % (a, b))

    def test_subscription_handshake(self):
        self.clear('dave', 'erin')
        d = self.login('dave', presence=False)
        e = self.login('erin', presence=False)
        self.get_roster(d)
        self.get_roster(e)
        d.presence()
        e.presence()
        d.sync()
        e.sync()
        drain(d)
        drain(e)
        d.send("<presence to='erin@localhost' type='subscribe'><status>hi</status></presence>")
        push = d.recv_match(is_push)
        self.assertEqual(roster_items(push), [('erin@localhost', None, 'none', 'subscribe', [])])
        sub = e.recv_match(lambda el: is_presence(el, 'subscribe'))
        self.assertEqual(sub.get('from'), 'dave@localhost')
        self.assertEqual(row('dave', 'erin@localhost'), (0, 1, 0, 0, 1))
        self.assertEqual(row('erin', 'dave@localhost'), (0, 0, 1, 0, 0))
        e.send("<presence to='dave@localhost' type='subscribed'/>")
        push = e.recv_match(is_push)
        self.assertEqual(roster_items(push), [('dave@localhost', None, 'from', None, [])])
        got = d.recv_match(lambda el: is_presence(el, 'subscribed'))
        self.assertEqual(got.get('from'), 'erin@localhost')
        push = d.recv_match(is_push)
        self.assertEqual(roster_items(push), [('erin@localhost', None, 'to', None, [])])
        # the probe that follows brings erin's presence
        p = d.recv_match(lambda el: is_presence(el) and el.get('from') == e.jid)
        self.assertEqual(p.get('to'), d.jid)
        self.assertEqual(row('dave', 'erin@localhost'), (1, 0, 0, 0, 1))
        self.assertEqual(row('erin', 'dave@localhost'), (2, 0, 0, 0, 1))
        # erin cancels dave's subscription: dave sees erin go unavailable
        e.send("<presence to='dave@localhost' type='unsubscribed'/>")
        d.recv_match(lambda el: is_presence(el, 'unavailable') and el.get('from') == e.jid)
        d.recv_match(lambda el: is_presence(el, 'unsubscribed'))
        time.sleep(0.3)
        self.assertEqual(row('dave', 'erin@localhost'), (0, 0, 0, 0, 1))
        self.assertEqual(row('erin', 'dave@localhost'), (0, 0, 0, 0, 1))

    def test_preapproval(self):
        self.clear('dave', 'erin')
        e = self.login('erin')
        e.send("<presence to='dave@localhost' type='subscribed'/>")
        e.sync()
        self.assertEqual(row('erin', 'dave@localhost'), (0, 0, 0, 1, 1))
        d = self.login('dave')
        d.send("<presence to='erin@localhost' type='subscribe'/>")
        d.recv_match(lambda el: is_presence(el, 'subscribed'))
        e.expect_no_stanza(0.5)  # pre-approved: not delivered
        self.assertEqual(row('erin', 'dave@localhost'), (2, 0, 0, 0, 1))
        self.assertEqual(row('dave', 'erin@localhost'), (1, 0, 0, 0, 1))

    def test_broadcast_probe_and_abrupt_disconnect(self):
        self.clear('alice', 'bob', 'carol')
        self.befriend('alice', 'bob')
        a = self.login('alice')
        c = self.login('carol')      # no subscription with anyone
        drain(a)
        b1 = self.login('bob', presence=False)
        b1.presence(status='here')
        # bob's first resource gets alice's presence from the probe
        p = b1.recv_match(lambda el: is_presence(el) and el.get('from') == a.jid)
        self.assertEqual(p.get('to'), b1.jid)
        p = a.recv_match(lambda el: is_presence(el) and el.get('from') == b1.jid)
        self.assertEqual(p.find(q(NS_CLIENT, 'status')).text, 'here')
        b2 = self.login('bob', presence=False)
        b2.presence()
        # the other resource of bob sees b2, and b2 sees b1
        b1.recv_match(lambda el: is_presence(el) and el.get('from') == b2.jid)
        b2.recv_match(lambda el: is_presence(el) and el.get('from') == b1.jid)
        a.recv_match(lambda el: is_presence(el) and el.get('from') == b2.jid)
        # close b2's socket without </stream:stream>
        b2.sock.close()
        b2.closed = True
        p = a.recv_match(lambda el: is_presence(el, 'unavailable') and el.get('from') == b2.jid)
        b1.recv_match(lambda el: is_presence(el, 'unavailable') and el.get('from') == b2.jid)
        # carol saw none of it
        for el in drain(c, 0.3) + c.skipped:
            self.assertNotIn(b1.jid, to_string(el))
        # an unsubscribed entity's presence does not reach alice
        c.send("<presence to='alice@localhost'/>")
        c.sync()
        for el in drain(a, 0.5):
            self.assertNotEqual(el.get('from'), c.jid, to_string(el))

    def test_directed_presence_cancelled(self):
        self.clear('frank', 'gina')
        f = self.login('frank')
        g = self.login('gina')
        drain(g)
        f.send("<presence to='%s'><status>psst</status></presence>" % g.jid)
        p = g.recv_match(lambda el: is_presence(el) and el.get('from') == f.jid)
        self.assertEqual(p.find(q(NS_CLIENT, 'status')).text, 'psst')
        f.presence(ptype='unavailable')
        g.recv_match(lambda el: is_presence(el, 'unavailable') and el.get('from') == f.jid)

    def test_offline_request_presented_at_login(self):
        self.clear('hank', 'alice')
        a = self.login('alice')
        a.send("<presence to='hank@localhost' type='subscribe'><status>add me</status>"
               "</presence>")
        a.sync()
        time.sleep(0.2)
        self.assertEqual(row('hank', 'alice@localhost'), (0, 0, 1, 0, 0))
        for _ in range(2):  # each login shows it again until answered
            h = self.login('hank', presence=False)
            r = self.get_roster(h)
            self.assertEqual(roster_items(r), [])  # pending-in is not a roster item
            h.presence()
            s = h.recv_match(lambda el: is_presence(el, 'subscribe'))
            self.assertEqual(s.get('from'), 'alice@localhost')
            self.assertEqual(s.find(q(NS_CLIENT, 'status')).text, 'add me')
            h.send('</stream:stream>')
            h.close()
            SRV.wait_disconnected(h.jid)
        h = self.login('hank')  # login() syncs: what came before is in .skipped
        self.assertEqual([el.get('from') for el in h.skipped + drain(h)
                          if is_presence(el, 'subscribe')], ['alice@localhost'])
        h.send("<presence to='alice@localhost' type='unsubscribed'/>")
        a.recv_match(lambda el: is_presence(el, 'unsubscribed'))
        self.assertEqual(row('hank', 'alice@localhost'), None)


# ---- RFC 6121 Appendix A, walked end to end ----

# state name -> (sub bits, ask, pending_in)
STATES = {
    'None': (0, 0, 0), 'None+PO': (0, 1, 0), 'None+PI': (0, 0, 1), 'None+POI': (0, 1, 1),
    'To': (1, 0, 0), 'To+PI': (1, 0, 1), 'From': (2, 0, 0), 'From+PO': (2, 1, 0),
    'Both': (3, 0, 0),
}
# A.2 outbound: new state (None = no change); subscribe/unsubscribe always routed,
# subscribed/unsubscribed routed only when the state changes.
OUT = {
    'subscribe': {'None': 'None+PO', 'None+PI': 'None+POI', 'From': 'From+PO'},
    'unsubscribe': {'None+PO': 'None', 'None+POI': 'None+PI', 'To': 'None', 'To+PI': 'None+PI',
                    'From+PO': 'From', 'Both': 'From'},
    'subscribed': {'None+PI': 'From', 'None+POI': 'From+PO', 'To+PI': 'Both'},
    'unsubscribed': {'None+PI': 'None', 'None+POI': 'None+PO', 'To+PI': 'To', 'From': 'None',
                     'From+PO': 'None+PO', 'Both': 'To'},
}
# A.3 inbound: (delivered, new state)
IN = {
    'subscribe': {'None': 'None+PI', 'None+PO': 'None+POI', 'To': 'To+PI'},
    'unsubscribe': {'None+PI': 'None', 'None+POI': 'None+PO', 'To+PI': 'To', 'From': 'None',
                    'From+PO': 'None+PO', 'Both': 'To'},
    'subscribed': {'None+PO': 'To', 'None+POI': 'To+PI', 'From+PO': 'Both'},
    'unsubscribed': {'None+PO': 'None', 'None+POI': 'None+PI', 'To': 'None',
                     'To+PI': 'None+PI', 'From+PO': 'From', 'Both': 'From'},
}


def mirror(name):
    sub, ask, pin = STATES[name]
    want = (((sub & 1) << 1) | ((sub & 2) >> 1), pin, ask)
    return [k for k, v in STATES.items() if v == want][0]


class AppendixA(Base):
    def test_walk(self):
        u = self.login('ulla')
        c = self.login('cora')
        failures = []
        for stype in ('subscribe', 'unsubscribe', 'subscribed', 'unsubscribed'):
            for name in STATES:
                self.clear('ulla', 'cora')
                for user, jid, st in (('ulla', 'cora', name), ('cora', 'ulla', mirror(name))):
                    sub, ask, pin = STATES[st]
                    db_exec("INSERT INTO roster_items (host, username, jid, sub, ask, pending_in)"
                            " VALUES ('localhost', '%s', '%s@localhost', %d, %d, %d)"
                            % (user, jid, sub, ask, pin))
                drain(u, 0.05)
                drain(c, 0.05)
                u.send("<presence to='cora@localhost' type='%s'/>" % stype)
                u.sync()
                routed = stype in ('subscribe', 'unsubscribe') or name in OUT[stype]
                new_u = OUT[stype].get(name, name)
                new_c = mirror(name)
                delivered = routed and mirror(name) in IN[stype]
                if routed:
                    new_c = IN[stype].get(mirror(name), mirror(name))
                got = [el for el in drain(c, 0.3) if el.get('type') == stype]
                got_u = row('ulla', 'cora@localhost')
                got_c = row('cora', 'ulla@localhost')
                exp_u = STATES[new_u]
                exp_c = STATES[new_c]
                if (got_u is None or got_u[:3] != exp_u or
                        (got_c or (0, 0, 0))[:3] != exp_c or len(got) != int(delivered)):
                    failures.append('%s from %s: ulla %s (want %s), cora %s (want %s), '
                                    'delivered %d (want %d)'
                                    % (stype, name, got_u, exp_u, got_c, exp_c, len(got),
                                       delivered))
                if delivered:
                    self.assertEqual(got[0].get('from'), 'ulla@localhost')
        self.assertEqual(failures, [])
