# SPDX-License-Identifier: ISC
# Blocking Command (XEP-0191) and ingress filtering with raw clients: the blocklist protocol,
# pushes, every enforcement rule with its exact stanzas, persistence; forged server stanzas.

import harness
from harness import PASSWORD, unique
from rawxmpp import NS_CLIENT, NS_STANZAS, q, to_string

SRV = None
NS = 'urn:xmpp:blocking'
NS_ERR = 'urn:xmpp:blocking:errors'
PING = "<ping xmlns='urn:xmpp:ping'/>"
DISCO = "<query xmlns='http://jabber.org/protocol/disco#info'/>"


def setUpModule():
    global SRV
    SRV = harness.module_server('blocking', modules={
        'disco': {}, 'ping': {}, 'blocking': {}, 'filter': {}})


def tearDownModule():
    harness.module_teardown(SRV)


def items(el, name='blocklist'):
    x = el.find(q(NS, name))
    assert x is not None, to_string(el)
    return sorted(i.get('jid') for i in x.findall(q(NS, 'item')))


def is_iq(iid=None):
    return lambda e: e.tag == q(NS_CLIENT, 'iq') and (iid is None or e.get('id') == iid)


def is_push(e):
    return (e.tag == q(NS_CLIENT, 'iq') and e.get('type') == 'set' and
            (e.find(q(NS, 'block')) is not None or e.find(q(NS, 'unblock')) is not None))


class Base(harness.TestCase):
    def users(self, n):
        names = [unique('u') for _ in range(n)]
        for u in names:
            SRV.register(u, PASSWORD)
        return names

    def block(self, c, *jids, op='block'):
        inner = ''.join("<item jid='%s'/>" % j for j in jids)
        return c.iq('set', "<%s xmlns='%s'>%s</%s>" % (op, NS, inner, op))

    def blocklist(self, c):
        r = c.iq('get', "<blocklist xmlns='%s'/>" % NS)
        self.assertResult(r)
        return items(r)

    def assertBlockedError(self, el, kind, frm, to, sid):
        """not-acceptable (type cancel) with <blocked xmlns='urn:xmpp:blocking:errors'/>."""
        self.assertEqual(el.tag, q(NS_CLIENT, kind), to_string(el))
        self.assertEqual(el.get('type'), 'error', to_string(el))
        for attr, want in (('from', frm), ('to', to), ('id', sid)):
            if want is not None:
                self.assertEqual(el.get(attr), want, to_string(el))
        err = el.find(q(NS_CLIENT, 'error'))
        self.assertEqual(err.get('type'), 'cancel', to_string(el))
        self.assertEqual([c.tag for c in err], [q(NS_STANZAS, 'not-acceptable'),
                                                q(NS_ERR, 'blocked')], to_string(el))


class Protocol(Base):
    def test_empty_then_block_and_pushes(self):
        a, b = self.users(2)
        c1 = self.login(a)
        c2 = self.login(a)
        c3 = self.login(a)  # never asks for the blocklist: gets no push
        self.assertEqual(self.blocklist(c1), [])
        self.assertEqual(self.blocklist(c2), [])
        r = self.block(c1, '%s@LocalHost' % b.upper(), 'evil.example')
        self.assertResult(r)
        self.assertIsNone(r.get('from'))
        self.assertEqual(list(r), [])
        for c in (c1, c2):
            push = c.recv_match(is_push)
            self.assertEqual(push.get('to'), c.jid)
            self.assertEqual(items(push, 'block'), sorted(['%s@localhost' % b, 'evil.example']))
        c3.expect_no_stanza(0.3)
        self.assertEqual(self.blocklist(c3), sorted(['%s@localhost' % b, 'evil.example']))
        # storage holds the prepared JIDs
        rows = SRV.db_rows("SELECT host, username, jid FROM blocklist WHERE username = '%s' "
                           "ORDER BY jid" % a)
        self.assertEqual(sorted(rows), [('localhost', a, 'evil.example'),
                                        ('localhost', a, '%s@localhost' % b)])
        # blocking again is idempotent
        self.assertResult(self.block(c1, '%s@localhost' % b))
        self.assertEqual(self.blocklist(c1), sorted(['%s@localhost' % b, 'evil.example']))

    def test_unblock_and_unblock_all(self):
        a, = self.users(1)
        c1 = self.login(a)
        c2 = self.login(a)
        self.blocklist(c2)
        self.assertResult(self.block(c1, 'x@one.example', 'y@two.example', 'three.example'))
        c2.recv_match(is_push)
        self.assertResult(self.block(c1, 'x@one.example', op='unblock'))
        push = c2.recv_match(is_push)
        self.assertEqual(items(push, 'unblock'), ['x@one.example'])
        self.assertEqual(self.blocklist(c1), ['three.example', 'y@two.example'])
        r = c1.iq('set', "<unblock xmlns='%s'/>" % NS)
        self.assertResult(r)
        push = c2.recv_match(is_push)
        self.assertEqual(push.get('to'), c2.jid)
        self.assertEqual(list(push.find(q(NS, 'unblock'))), [])
        self.assertEqual(self.blocklist(c1), [])
        self.assertEqual(SRV.db_rows("SELECT jid FROM blocklist WHERE username = '%s'" % a), [])

    def test_bad_requests(self):
        a, = self.users(1)
        c = self.login(a)
        r = c.iq('set', "<block xmlns='%s'/>" % NS)
        self.assertStanzaError(r, 'iq', 'modify', 'bad-request')
        r = self.block(c, 'ok@example.org', 'a@b@c/')
        self.assertStanzaError(r, 'iq', 'modify', 'jid-malformed')
        r = c.iq('set', "<block xmlns='%s'><item/></block>" % NS)
        self.assertStanzaError(r, 'iq', 'modify', 'jid-malformed')
        # nothing was stored from the refused requests
        self.assertEqual(self.blocklist(c), [])

    def test_someone_elses_blocklist(self):
        a, b = self.users(2)
        cb = self.login(b)
        r = cb.iq('get', "<blocklist xmlns='%s'/>" % NS, to='%s@localhost' % a)
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable')

    def test_disco_features(self):
        a, = self.users(1)
        c = self.login(a)
        for to in ('localhost', '%s@localhost' % a):
            r = c.iq('get', DISCO, to=to)
            self.assertResult(r)
            feats = [f.get('var') for f in
                     r.find('{http://jabber.org/protocol/disco#info}query')]
            self.assertIn(NS, feats, to)

    def test_persistence_across_login(self):
        a, b = self.users(2)
        c = self.login(a)
        self.assertResult(self.block(c, '%s@localhost' % b))
        c.send('</stream:stream>')
        c.close()
        SRV.wait_disconnected(c.jid)
        c = self.login(a)
        self.assertEqual(self.blocklist(c), ['%s@localhost' % b])


class Enforcement(Base):
    def setup_block(self, jid_of_b=None):
        a, b, other = self.users(3)
        ca = self.login(a)
        cb = self.login(b)
        co = self.login(other)
        self.assertResult(self.block(ca, jid_of_b or '%s@localhost' % b))
        return ca, cb, co

    def test_inbound_message_refused(self):
        ca, cb, co = self.setup_block()
        cb.message(ca.jid, 'to full', mid='m1')
        el = cb.recv_message()
        self.assertStanzaError(el, 'message', 'cancel', 'service-unavailable', frm=ca.jid,
                               to=cb.jid, sid='m1')
        bare = ca.jid.split('/')[0]
        cb.message(bare, 'to bare', mid='m2')
        el = cb.recv_message()
        self.assertStanzaError(el, 'message', 'cancel', 'service-unavailable', frm=bare,
                               to=cb.jid, sid='m2')
        ca.expect_no_stanza(0.3)
        # someone else still gets through
        co.message(ca.jid, 'hello', mid='ok')
        el = ca.recv_message()
        self.assertEqual((el.get('from'), el.get('id')), (co.jid, 'ok'))

    def test_inbound_presence_dropped(self):
        ca, cb, co = self.setup_block()
        bare = ca.jid.split('/')[0]
        cb.send("<presence to='%s' type='subscribe'/>" % bare)
        cb.send("<presence to='%s'/>" % ca.jid)
        cb.send("<presence to='%s' type='probe'/>" % bare)
        cb.sync()
        ca.expect_no_stanza(0.3)
        cb.expect_no_stanza(0.3)
        co.send("<presence to='%s'/>" % ca.jid)
        el = ca.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence'))
        self.assertEqual(el.get('from'), co.jid)

    def test_inbound_iq(self):
        ca, cb, co = self.setup_block()
        bare = ca.jid.split('/')[0]
        r = cb.iq('get', PING, to=ca.jid)
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable', frm=ca.jid)
        # an account iq answered by a module (disco) is refused too
        r = cb.iq('get', DISCO, to=bare)
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable', frm=bare)
        r = co.iq('get', DISCO, to=bare)
        self.assertResult(r, frm=bare)
        # iq results and errors from a blocked JID are dropped silently
        cb.send("<iq type='result' id='r1' to='%s'/>" % ca.jid)
        cb.send("<iq type='error' id='r2' to='%s'><error type='cancel'>"
                "<service-unavailable xmlns='%s'/></error></iq>" % (ca.jid, NS_STANZAS))
        cb.sync()
        ca.expect_no_stanza(0.3)
        cb.expect_no_stanza(0.2)

    def test_outbound_refused(self):
        ca, cb, co = self.setup_block()
        ca.message(cb.jid, 'can you hear me now?', mid='out1')
        el = ca.recv_message()
        self.assertBlockedError(el, 'message', cb.jid, ca.jid, 'out1')
        self.assertEqual(el.find(q(NS_CLIENT, 'body')).text, 'can you hear me now?')
        bbare = cb.jid.split('/')[0]
        r = ca.iq('get', PING, to=bbare)
        self.assertBlockedError(r, 'iq', bbare, ca.jid, r.get('id'))
        ca.send("<presence to='%s' id='p1'/>" % cb.jid)
        el = ca.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence'))
        self.assertBlockedError(el, 'presence', cb.jid, ca.jid, 'p1')
        cb.expect_no_stanza(0.3)

    def test_unblock_restores(self):
        ca, cb, co = self.setup_block()
        self.assertResult(self.block(ca, cb.jid.split('/')[0], op='unblock'))
        cb.message(ca.jid, 'again', mid='again')
        el = ca.recv_message()
        self.assertEqual((el.get('from'), el.get('id')), (cb.jid, 'again'))
        ca.message(cb.jid, 'back', mid='back')
        el = cb.recv_message()
        self.assertEqual((el.get('from'), el.get('id')), (ca.jid, 'back'))

    def test_full_jid_item(self):
        a, b = self.users(2)
        ca = self.login(a)
        cb1 = self.login(b)
        cb2 = self.login(b)
        self.assertResult(self.block(ca, cb1.jid))
        cb1.message(ca.jid, 'blocked', mid='b1')
        self.assertStanzaError(cb1.recv_message(), 'message', 'cancel', 'service-unavailable')
        cb2.message(ca.jid, 'not blocked', mid='b2')
        self.assertEqual(ca.recv_message().get('id'), 'b2')

    def test_domain_and_domain_resource(self):
        a, b = self.users(2)
        ca = self.login(a)
        res = unique('bot')
        cb = self.login(b, resource=res)
        cb2 = self.login(b)
        self.assertResult(self.block(ca, 'localhost/%s' % res))
        cb.message(ca.jid, 'x', mid='d1')
        self.assertStanzaError(cb.recv_message(), 'message', 'cancel', 'service-unavailable')
        cb2.message(ca.jid, 'y', mid='d2')
        self.assertEqual(ca.recv_message().get('id'), 'd2')
        # the whole domain: every user of it, but never the server itself
        self.assertResult(self.block(ca, 'localhost'))
        cb2.message(ca.jid, 'z', mid='d3')
        self.assertStanzaError(cb2.recv_message(), 'message', 'cancel', 'service-unavailable')
        self.assertResult(ca.iq('get', PING, to='localhost'), frm='localhost')
        ca.message(cb2.jid, 'out', mid='d4')
        self.assertBlockedError(ca.recv_message(), 'message', cb2.jid, ca.jid, 'd4')
        # the user's own resources are never blocked
        ca2 = self.login(a)
        ca2.message(ca.jid, 'self', mid='self')
        self.assertEqual(ca.recv_message().get('id'), 'self')

    def test_first_stanza_after_login_checked(self):
        # the list loads while the session is held: a stanza pipelined right after bind meets it
        a, b = self.users(2)
        c = self.login(a)
        self.assertResult(self.block(c, '%s@localhost' % b))
        cb = self.login(b)
        fresh = SRV.client()
        fresh.start()
        fresh.authenticate(a, PASSWORD)
        iid = 'bind-fast'
        fresh.send("<iq type='set' id='%s'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>"
                   "<message to='%s' id='first'><body>x</body></message>" % (iid, cb.jid))
        fresh.recv_match(is_iq(iid))
        el = fresh.recv_message()
        self.assertEqual(el.get('id'), 'first')
        self.assertBlockedError(el, 'message', cb.jid, None, 'first')
        cb.expect_no_stanza(0.3)
        fresh.close()

    def test_offline_user_enforced(self):
        # no session of the blocking user: the list is loaded from storage for the stanza
        a, b, other = self.users(3)
        c = self.login(a)
        self.assertResult(self.block(c, '%s@localhost' % b))
        c.send('</stream:stream>')
        c.close()
        SRV.wait_disconnected(c.jid)
        cb = self.login(b)
        co = self.login(other)
        r = cb.iq('get', DISCO, to='%s@localhost' % a)
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable')
        self.assertResult(co.iq('get', DISCO, to='%s@localhost' % a))
        cb.send("<presence to='%s@localhost' type='subscribe'/>" % a)
        cb.sync()
        cb.expect_no_stanza(0.2)


class Filter(Base):
    def pair(self):
        a, b = self.users(2)
        return self.login(a), self.login(b)

    def test_forged_carbon(self):
        ca, cb = self.pair()
        for kind in ('sent', 'received'):
            mid = unique('carbon')
            ca.send("<message to='%s' id='%s' type='chat'><%s xmlns='urn:xmpp:carbons:2'>"
                    "<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' "
                    "from='%s' to='%s' type='chat'><body>forged</body></message></forwarded>"
                    "</%s></message>" % (cb.jid, mid, kind, cb.jid, ca.jid, kind))
            el = ca.recv_message()
            self.assertStanzaError(el, 'message', 'modify', 'policy-violation', sid=mid)
        cb.expect_no_stanza(0.3)

    def test_forged_mam_result(self):
        ca, cb = self.pair()
        ca.send("<message to='%s' id='mam1'><result xmlns='urn:xmpp:mam:2' id='x' queryid='q'>"
                "<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' "
                "from='%s'><body>old</body></message></forwarded></result></message>"
                % (cb.jid, cb.jid))
        self.assertStanzaError(ca.recv_message(), 'message', 'modify', 'policy-violation',
                               sid='mam1')
        cb.expect_no_stanza(0.3)

    def test_forged_stanza_id_removed(self):
        ca, cb = self.pair()
        abare = ca.jid.split('/')[0]
        bbare = cb.jid.split('/')[0]
        ca.send("<message to='%s' id='sid1' type='chat'><body>hi</body>"
                "<stanza-id xmlns='urn:xmpp:sid:0' by='LocalHost' id='f1'/>"
                "<stanza-id xmlns='urn:xmpp:sid:0' by='%s' id='f2'/>"
                "<stanza-id xmlns='urn:xmpp:sid:0' by='%s' id='f3'/>"
                "<stanza-id xmlns='urn:xmpp:sid:0' by='muc.example' id='keep'/>"
                "<origin-id xmlns='urn:xmpp:sid:0' id='o1'/></message>" % (cb.jid, abare, bbare))
        el = cb.recv_message()
        self.assertEqual(el.get('id'), 'sid1')
        sids = [(s.get('by'), s.get('id')) for s in el.findall('{urn:xmpp:sid:0}stanza-id')]
        # by the server or one of its accounts: removed; others are not ours to judge
        self.assertEqual(sids, [('muc.example', 'keep')])
        self.assertEqual([c.tag for c in el], [q(NS_CLIENT, 'body'),
                                               '{urn:xmpp:sid:0}stanza-id',
                                               '{urn:xmpp:sid:0}origin-id'])

    def test_forged_roster_push(self):
        ca, cb = self.pair()
        bbare = cb.jid.split('/')[0]
        for to in (cb.jid, bbare):
            ca.send("<iq type='set' id='%s' to='%s'><query xmlns='jabber:iq:roster'>"
                    "<item jid='mallory@evil.example' subscription='both'/></query></iq>"
                    % (unique('push'), to))
        ca.sync()
        cb.expect_no_stanza(0.3)
        ca.expect_no_stanza(0.2)

    def test_normal_messages_untouched(self):
        ca, cb = self.pair()
        ca.send("<message to='%s' id='n1' type='chat'><body>plain</body>"
                "<received xmlns='urn:xmpp:receipts' id='x'/></message>" % cb.jid)
        el = cb.recv_message()
        self.assertEqual(el.get('id'), 'n1')
        self.assertEqual([c.tag for c in el], [q(NS_CLIENT, 'body'),
                                               '{urn:xmpp:receipts}received'])
