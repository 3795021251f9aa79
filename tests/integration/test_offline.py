# SPDX-License-Identifier: ISC
# Offline messages (XEP-0160, XEP-0203 delay, XEP-0334 hints): what is stored, the rows, delivery
# in order at the next login, removal after delivery, the quota, concurrent logins, disconnects.

import datetime
import re
import threading
import time

import harness
from harness import PASSWORD, unique
from rawxmpp import NS_CLIENT, NS_STANZAS, q, to_string, xml_escape

SRV = None
MAX_MESSAGES = 60
NS_DELAY = 'urn:xmpp:delay'
NS_HINTS = 'urn:xmpp:hints'
STAMP = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$')


def setUpModule():
    global SRV
    SRV = harness.module_server(
        'offline', accounts={'alice': PASSWORD},
        modules={'disco': {}, 'ping': {},
                 'offline': {'max_messages': MAX_MESSAGES, 'max_message_size': '2k'}})


def tearDownModule():
    harness.module_teardown(SRV)


def rows(user):
    return SRV.db_rows("SELECT sender, stanza FROM offline_messages WHERE host = 'localhost' "
                       "AND username = '%s' ORDER BY seq" % user)


def wait_rows(user, n, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        r = rows(user)
        if len(r) == n or time.monotonic() > deadline:
            return r
        time.sleep(0.02)


def body_of(el):
    b = el.find(q(NS_CLIENT, 'body'))
    return None if b is None else b.text


class Offline(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.user = unique('off').lower()
        SRV.register(self.user)
        self.bare = '%s@localhost' % self.user

    def offline_login(self, resource=None):
        """A bound session of the recipient that has not sent presence yet."""
        return self.login(self.user, resource=resource, presence=False)

    def assertDelay(self, el, before, after):
        delays = el.findall(q(NS_DELAY, 'delay'))
        self.assertEqual(len(delays), 1, to_string(el))
        d = delays[0]
        self.assertEqual(set(d.attrib), {'from', 'stamp'}, to_string(el))
        self.assertEqual(d.get('from'), 'localhost')
        self.assertRegex(d.get('stamp'), STAMP)
        stamp = datetime.datetime.strptime(d.get('stamp')[:19], '%Y-%m-%dT%H:%M:%S').replace(
            tzinfo=datetime.timezone.utc).timestamp()
        self.assertTrue(before - 1 <= stamp <= after + 1, (before, stamp, after))
        self.assertEqual(len(d), 0)

    def test_stored_then_delivered_in_order(self):
        a = self.login('alice')
        t0 = time.time()
        a.send("<message to='%s' type='chat' id='m1'><body>one</body></message>" % self.bare)
        a.send("<message to='%s' type='normal' id='m2'><body>two &amp; &lt;2&gt;</body>"
               "<x xmlns='urn:example:ext' k='v'/></message>" % self.bare)
        # to a full JID whose resource is gone: only chat falls back to the bare JID (§8.5.3.2.1)
        a.send("<message to='%s/gone' type='chat' id='m3'><body>three</body></message>"
               % self.bare)
        r = wait_rows(self.user, 3)
        t1 = time.time()
        # the rows: the sender, and the stanza as it will be delivered, <delay/> included
        pattern = ("<message to='%s' type='%s' id='%s' from='%s'>%s"
                   "<delay xmlns='urn:xmpp:delay' from='localhost' stamp='([^']+)'/></message>")
        expect = [
            (self.bare, 'chat', 'm1', '<body>one</body>'),
            (self.bare, 'normal', 'm2',
             "<body>two &amp; &lt;2&gt;</body><x xmlns='urn:example:ext' k='v'/>"),
            (self.bare + '/gone', 'chat', 'm3', '<body>three</body>'),
        ]
        self.assertEqual(len(r), 3, r)
        for (sender, stanza), (to, mtype, mid, inner) in zip(r, expect):
            self.assertEqual(sender, a.jid)
            p = pattern % (re.escape(to), mtype, mid, re.escape(a.jid), re.escape(inner))
            m = re.fullmatch(p, stanza)
            self.assertIsNotNone(m, stanza)
            self.assertRegex(m.group(1), STAMP)
        # a session without presence gets nothing yet
        c = self.offline_login()
        c.expect_no_stanza(0.3)
        self.assertEqual(len(rows(self.user)), 3)
        c.presence()
        got = [c.recv_message() for _ in range(3)]
        self.assertEqual([e.get('id') for e in got], ['m1', 'm2', 'm3'])
        self.assertEqual([body_of(e) for e in got], ['one', 'two & <2>', 'three'])
        for e, (to, mtype, mid, _) in zip(got, expect):
            attrs = {'to': to, 'id': mid, 'from': a.jid}
            if mtype is not None:
                attrs['type'] = mtype
            self.assertEqual(dict(e.attrib), attrs, to_string(e))
            self.assertDelay(e, t0, t1)
        self.assertEqual([c.tag for c in got[1]],
                         [q(NS_CLIENT, 'body'), '{urn:example:ext}x', q(NS_DELAY, 'delay')])
        self.assertEqual(got[1].find('{urn:example:ext}x').attrib, {'k': 'v'})
        # removed once delivered
        self.assertEqual(wait_rows(self.user, 0), [])
        # a presence update does not deliver again, and nothing else came
        c.presence(show='away')
        c.expect_no_stanza(0.5)
        # a live message now arrives at once, without <delay/>
        a.message(self.bare, 'live', mid='m4')
        e = c.recv_message()
        self.assertEqual((e.get('id'), body_of(e)), ('m4', 'live'))
        self.assertIsNone(e.find(q(NS_DELAY, 'delay')))
        self.assertEqual(rows(self.user), [])

    def test_not_stored_types(self):
        a = self.login('alice')
        a.send("<message to='%s' type='headline' id='h'><body>news</body></message>" % self.bare)
        a.send("<message to='%s' type='groupchat' id='g'><body>room</body></message>"
               % self.bare)
        a.send("<message to='%s' type='error' id='e'><body>err</body>"
               "<error type='cancel'><item-not-found xmlns='%s'/></error></message>"
               % (self.bare, NS_STANZAS))
        # a chat message without body or hint (a chat state) is not stored but bounced
        a.send("<message to='%s' type='chat' id='cs'>"
               "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>"
               % self.bare)
        # groupchat to a bare JID is never delivered and is answered (RFC 6121 §8.5.2.2.1)
        el = a.recv_message()
        self.assertStanzaError(el, 'message', 'cancel', 'service-unavailable', frm=self.bare,
                               to=a.jid, sid='g')
        el = a.recv_message()
        self.assertStanzaError(el, 'message', 'cancel', 'service-unavailable', frm=self.bare,
                               to=a.jid, sid='cs')
        a.message(self.bare, 'sentinel', mid='s')
        r = wait_rows(self.user, 1)
        time.sleep(0.3)
        r = rows(self.user)
        self.assertEqual(len(r), 1, r)
        self.assertIn("id='s'", r[0][1])
        # headline and error are dropped without an answer (RFC 6121 §8.5.2.2.1)
        a.expect_no_stanza(0.3)
        c = self.offline_login()
        c.presence()
        e = c.recv_message()
        self.assertEqual(e.get('id'), 's')
        c.expect_no_stanza(0.5)
        self.assertEqual(wait_rows(self.user, 0), [])

    def test_no_store_hints(self):
        a = self.login('alice')
        for i, hint in enumerate(('no-store', 'no-permanent-store')):
            mid = 'ns%d' % i
            a.send("<message to='%s' type='chat' id='%s'><body>secret</body><%s xmlns='%s'/>"
                   "<store xmlns='%s'/></message>" % (self.bare, mid, hint, NS_HINTS, NS_HINTS))
            el = a.recv_message()
            self.assertStanzaError(el, 'message', 'cancel', 'service-unavailable',
                                   frm=self.bare, to=a.jid, sid=mid)
        self.assertEqual(rows(self.user), [])

    def test_store_hint_without_body(self):
        a = self.login('alice')
        t0 = time.time()
        a.send("<message to='%s' type='chat' id='rcpt'><received xmlns='urn:xmpp:receipts' "
               "id='x1'/><store xmlns='%s'/></message>" % (self.bare, NS_HINTS))
        r = wait_rows(self.user, 1)
        self.assertEqual(len(r), 1, r)
        t1 = time.time()
        c = self.offline_login()
        c.presence(priority=0)
        e = c.recv_message()
        self.assertEqual(dict(e.attrib), {'to': self.bare, 'from': a.jid, 'type': 'chat',
                                          'id': 'rcpt'})
        self.assertEqual([x.tag for x in e], ['{urn:xmpp:receipts}received',
                                              q(NS_HINTS, 'store'), q(NS_DELAY, 'delay')])
        self.assertEqual(e.find('{urn:xmpp:receipts}received').attrib, {'id': 'x1'})
        self.assertDelay(e, t0, t1)
        self.assertEqual(wait_rows(self.user, 0), [])

    def test_quota_resource_constraint(self):
        a = self.login('alice')
        for i in range(MAX_MESSAGES):
            a.message(self.bare, 'q%d' % i, mid='q%d' % i)
        self.assertEqual(len(wait_rows(self.user, MAX_MESSAGES)), MAX_MESSAGES)
        a.send("<message to='%s' type='chat' id='over'><body>one too many</body></message>"
               % self.bare)
        el = a.recv_message()
        self.assertEqual(dict(el.attrib), {'from': self.bare, 'to': a.jid, 'type': 'error',
                                           'id': 'over'}, to_string(el))
        self.assertEqual(body_of(el), 'one too many')
        err = el.find(q(NS_CLIENT, 'error'))
        self.assertEqual(err.attrib, {'type': 'wait'})
        self.assertEqual([x.tag for x in err], [q(NS_STANZAS, 'resource-constraint'),
                                                q(NS_STANZAS, 'text')])
        self.assertEqual(err.find(q(NS_STANZAS, 'text')).text, 'offline storage is full')
        self.assertEqual(len(rows(self.user)), MAX_MESSAGES)
        # the stored ones are all there, and once delivered there is room again
        c = self.offline_login()
        c.presence()
        self.assertEqual([body_of(c.recv_message()) for _ in range(MAX_MESSAGES)],
                         ['q%d' % i for i in range(MAX_MESSAGES)])
        self.assertEqual(wait_rows(self.user, 0), [])

    def test_too_large_bounced(self):
        a = self.login('alice')
        a.message(self.bare, 'x' * 3000, mid='big')
        el = a.recv_message()
        self.assertStanzaError(el, 'message', 'cancel', 'service-unavailable', frm=self.bare,
                               sid='big')
        self.assertEqual(rows(self.user), [])

    def test_negative_priority_then_positive(self):
        a = self.login('alice')
        a.message(self.bare, 'waiting', mid='w')
        wait_rows(self.user, 1)
        c = self.offline_login()
        c.presence(priority=-1)
        c.expect_no_stanza(0.5)
        self.assertEqual(len(rows(self.user)), 1)
        c.presence(priority=1)
        self.assertEqual(c.recv_message().get('id'), 'w')
        self.assertEqual(wait_rows(self.user, 0), [])

    def test_two_resources_at_once(self):
        a = self.login('alice')
        n = 20
        for i in range(n):
            a.message(self.bare, 'c%d' % i, mid='c%d' % i)
        self.assertEqual(len(wait_rows(self.user, n)), n)
        c1 = self.offline_login()
        c2 = self.offline_login()
        # both presences leave in the same instant
        barrier = threading.Barrier(2)

        def go(c):
            barrier.wait()
            c.presence()
        threads = [threading.Thread(target=go, args=(c,)) for c in (c1, c2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = {}
        for c in (c1, c2):
            ids = []
            while True:
                try:
                    ids.append(c.recv_message(timeout=1.5).get('id'))
                except Exception:
                    break
            got[c.jid] = ids
        everything = got[c1.jid] + got[c2.jid]
        self.assertEqual(sorted(everything), sorted('c%d' % i for i in range(n)), got)
        for ids in got.values():  # each one in order
            self.assertEqual(ids, sorted(ids, key=lambda x: int(x[1:])))
        self.assertEqual(wait_rows(self.user, 0), [])

    def test_session_ends_before_delivery_keeps_rows(self):
        a = self.login('alice')
        for i in range(3):
            a.message(self.bare, 'k%d' % i, mid='k%d' % i)
        self.assertEqual(len(wait_rows(self.user, 3)), 3)
        c = self.offline_login()
        # the presence and a fatal error in one write: the session is gone before the stored
        # messages come back from the database
        c.send('<presence/><<')
        self.assertStreamError(c, 'not-well-formed')
        SRV.wait_disconnected(c.jid)
        time.sleep(0.3)
        self.assertEqual(len(rows(self.user)), 3)
        c2 = self.offline_login()
        c2.presence()
        self.assertEqual([c2.recv_message().get('id') for _ in range(3)], ['k0', 'k1', 'k2'])
        self.assertEqual(wait_rows(self.user, 0), [])

    def test_abrupt_disconnect_never_loses(self):
        # a client that drops the TCP connection right after its presence: whatever the timing,
        # every message is either still stored or was written before the session ended
        a = self.login('alice')
        for i in range(3):
            a.message(self.bare, 'd%d' % i, mid='d%d' % i)
        self.assertEqual(len(wait_rows(self.user, 3)), 3)
        c = self.offline_login()
        c.send('<presence/>')
        c.sock.close()
        SRV.wait_disconnected(c.jid)
        time.sleep(0.3)
        left = len(rows(self.user))
        self.assertIn(left, (0, 3))

    def test_live_messages_queue_behind_delivery(self):
        a = self.login('alice')
        for i in range(10):
            a.message(self.bare, 'o%d' % i, mid='o%d' % i)
        self.assertEqual(len(wait_rows(self.user, 10)), 10)
        c = self.offline_login()
        c.presence()
        for i in range(5):
            a.message(self.bare, 'l%d' % i, mid='l%d' % i)
        ids = [c.recv_message().get('id') for _ in range(15)]
        self.assertEqual(ids, ['o%d' % i for i in range(10)] + ['l%d' % i for i in range(5)])
        c.expect_no_stanza(0.3)
        self.assertEqual(wait_rows(self.user, 0), [])

    def test_user_deleted_drops_rows(self):
        a = self.login('alice')
        a.message(self.bare, 'bye', mid='bye')
        self.assertEqual(len(wait_rows(self.user, 1)), 1)
        SRV.ctl_ok('unregister', self.user, 'localhost')
        self.assertEqual(wait_rows(self.user, 0), [])

    def test_ctl_delete_old_messages(self):
        a = self.login('alice')
        a.message(self.bare, 'old', mid='old')
        self.assertEqual(len(wait_rows(self.user, 1)), 1)
        self.assertEqual(SRV.ctl_ok('delete_old_messages', '1'), '')
        self.assertEqual(len(rows(self.user)), 1)
        r = SRV.ctl('delete_old_messages', 'x')
        self.assertEqual(r.returncode, 2, r)
        self.assertEqual(len(rows(self.user)), 1)
        time.sleep(1.1)  # older than "now" by at least a whole second
        self.assertEqual(SRV.ctl_ok('delete_old_messages', '0'), '')
        self.assertEqual(rows(self.user), [])

    def test_disco_feature(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='http://jabber.org/protocol/disco#info'/>",
                 to='localhost')
        self.assertResult(r)
        feats = [f.get('var') for f in r.find('{http://jabber.org/protocol/disco#info}query')
                 .findall('{http://jabber.org/protocol/disco#info}feature')]
        self.assertIn('msgoffline', feats)


if __name__ == '__main__':
    import unittest
    unittest.main()
