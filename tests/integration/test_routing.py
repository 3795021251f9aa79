# SPDX-License-Identifier: ISC
# Sessions and routing (RFC 6120 §7, §8, §10) with raw clients: bind conflicts, full and bare
# JIDs, priorities, the errors for unknown and remote addresses, overlong JIDs.

import harness
from harness import PASSWORD, unique
from rawxmpp import NS_BIND, NS_CLIENT, NS_STANZAS, q, to_string

SRV = None


SECOND = 'second.test'


def setUpModule():
    global SRV
    srv = harness.Server('routing', accounts={u: PASSWORD for u in
                                              ('alice', 'bob', 'carol', 'offline')})
    srv.second_cert, key = srv.make_cert(SECOND)
    srv.extra_hosts = [{'name': SECOND, 'certificate': srv.second_cert, 'key': key,
                        'modules': {'ping': {}}}]
    try:
        SRV = srv.start()
    except BaseException:
        srv.cleanup()
        raise
    SRV.register('dora', PASSWORD, host=SECOND)


def tearDownModule():
    harness.module_teardown(SRV)


EXT = ("<x xmlns='urn:example:itest' a='1' b='&lt;&amp;&quot;'>"
       "<y>t&amp;t</y><z xmlns='urn:example:other' c=''/>tail</x>")
BODY = "héllo ✓ <&> 'quotes' \"double\"\n  line two\ttab"


def body_of(el):
    b = el.find(q(NS_CLIENT, 'body'))
    return None if b is None else b.text


class Bind(harness.TestCase):
    def test_conflict_kicks_old_session(self):
        res = unique('dup')
        old = self.login('alice', resource=res)
        new = self.client()
        new.start()
        new.authenticate('alice', PASSWORD)
        self.assertEqual(new.bind(res), 'alice@localhost/' + res)
        self.assertStreamError(old, 'conflict')
        self.assertEqual([j for j in SRV.connected() if j.endswith('/' + res)],
                         ['alice@localhost/' + res])
        # the new session works
        r = new.iq('get', "<ping xmlns='urn:xmpp:ping'/>", to='localhost')
        self.assertResult(r)

    def test_same_resource_other_user_no_conflict(self):
        res = unique('same')
        a = self.login('alice', resource=res)
        b = self.login('bob', resource=res)
        a.expect_no_stanza(0.3)
        self.assertResult(a.iq('get', "<ping xmlns='urn:xmpp:ping'/>", to='localhost'))
        self.assertResult(b.iq('get', "<ping xmlns='urn:xmpp:ping'/>", to='localhost'))

    def test_resource_prepared(self):
        # RFC 7622 §3.4: the resourcepart is normalized (NFC); the JID returned is prepared
        c = self.client()
        c.start()
        c.authenticate('alice', PASSWORD)
        res = 'Cafe\u0301-' + unique('')
        self.assertEqual(c.bind(res), 'alice@localhost/' + 'Caf\u00e9-' + res[6:])

    def test_overlong_resource(self):
        c = self.client()
        c.start()
        c.authenticate('alice', PASSWORD)
        iid = 'long'
        c.send("<iq type='set' id='%s'><bind xmlns='%s'><resource>%s</resource></bind></iq>"
               % (iid, NS_BIND, 'r' * 1024))
        el = c.recv_match(lambda e: e.get('id') == iid)
        self.assertStanzaError(el, 'iq', 'modify', 'bad-request', sid=iid)
        # the longest valid resource binds
        res = unique('') + 'r' * (1023 - 11)
        self.assertEqual(len(res.encode()), 1023)
        self.assertEqual(c.bind(res), 'alice@localhost/' + res)

    def test_resource_with_forbidden_character(self):
        c = self.client()
        c.start()
        c.authenticate('alice', PASSWORD)
        c.send("<iq type='set' id='b1'><bind xmlns='%s'><resource>a\u0007b</resource></bind></iq>"
               % NS_BIND)
        # U+0007 is not even XML: the stream must end
        self.assertStreamError(c, 'not-well-formed')


class Messages(harness.TestCase):
    def test_full_jid_payload_preserved(self):
        a = self.login('alice')
        b = self.login('bob')
        a.send("<message to='%s' type='chat' id='m1' xml:lang='fr'><body>%s</body>%s</message>"
               % (b.jid, BODY.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;'),
                  EXT))
        el = b.recv_message()
        self.assertEqual(el.get('from'), a.jid)
        self.assertEqual(el.get('to'), b.jid)
        self.assertEqual(el.get('id'), 'm1')
        self.assertEqual(el.get('type'), 'chat')
        self.assertEqual(el.get('{http://www.w3.org/XML/1998/namespace}lang'), 'fr')
        self.assertEqual(body_of(el), BODY)
        x = el.find('{urn:example:itest}x')
        self.assertIsNotNone(x, to_string(el))
        self.assertEqual(x.attrib, {'a': '1', 'b': '<&"'})
        self.assertEqual(x.find('{urn:example:itest}y').text, 't&t')
        z = x.find('{urn:example:other}z')
        self.assertEqual(z.attrib, {'c': ''})
        self.assertEqual(z.tail, 'tail')
        self.assertEqual([c.tag for c in el], [q(NS_CLIENT, 'body'), '{urn:example:itest}x'])

    def test_escaping_roundtrip(self):
        # what the server writes must parse back to exactly what was sent: "]]>" in text,
        # CR in text, tab/CR/LF in attribute values (which a parser would normalize)
        a = self.login('alice')
        b = self.login('bob')
        a.send("<message to='%s' id='esc'><body>a]]&gt;b&#13;c\r\nd</body>"
               "<x xmlns='urn:example:esc' v='1&#9;2&#10;3&#13;4 &lt;&gt;&amp;&quot;&apos;'>"
               "&lt;&amp;&gt;</x></message>" % b.jid)
        el = b.recv_message()
        self.assertEqual(body_of(el), 'a]]>b\rc\nd')
        x = el.find('{urn:example:esc}x')
        self.assertEqual(x.get('v'), '1\t2\n3\r4 <>&"\'')
        self.assertEqual(x.text, '<&>')

    def test_namespaces_roundtrip(self):
        # prefixed elements and attributes keep their namespaces
        a = self.login('alice')
        b = self.login('bob')
        a.send("<message to='%s' id='ns'><body>n</body><p:x xmlns:p='urn:example:p' "
               "xmlns:q='urn:example:q' q:attr='qa' plain='pa'><p:y/><z xmlns='urn:example:z'/>"
               "</p:x></message>" % b.jid)
        el = b.recv_message()
        x = el.find('{urn:example:p}x')
        self.assertIsNotNone(x, to_string(el))
        self.assertEqual(x.attrib, {'{urn:example:q}attr': 'qa', 'plain': 'pa'})
        self.assertEqual([c.tag for c in x], ['{urn:example:p}y', '{urn:example:z}z'])

    def test_bare_jid_highest_priority(self):
        a = self.login('alice')
        hi = self.login('carol', priority=5)
        hi2 = self.login('carol', priority=5)
        lo = self.login('carol', priority=1)
        neg = self.login('carol', priority=-1)
        silent = self.login('carol', presence=False)
        a.message('carol@localhost', 'to the bare jid', mid='bare1')
        for c in (hi, hi2):
            el = c.recv_message()
            self.assertEqual(body_of(el), 'to the bare jid')
            self.assertEqual(el.get('to'), 'carol@localhost')
            self.assertEqual(el.get('from'), a.jid)
        for c in (lo, neg, silent):
            c.expect_no_stanza(0.3)
        a.expect_no_stanza(0.1)

    def test_bare_jid_lower_priority_when_alone(self):
        a = self.login('alice')
        lo = self.login('carol', priority=0)
        a.message('carol@localhost', 'zero')
        self.assertEqual(body_of(lo.recv_message()), 'zero')

    def test_bare_jid_no_available_resource(self):
        a = self.login('alice')
        self.login('bob', presence=False)
        self.login('bob', priority=-5)
        a.message('bob@localhost', 'nobody home', mid='nh')
        el = a.recv_message()
        self.assertStanzaError(el, 'message', 'cancel', 'service-unavailable',
                               frm='bob@localhost', to=a.jid, sid='nh')

    def test_offline_account(self):
        a = self.login('alice')
        a.message('offline@localhost', 'are you there', mid='off')
        el = a.recv_message()
        self.assertStanzaError(el, 'message', 'cancel', 'service-unavailable',
                               frm='offline@localhost', to=a.jid, sid='off')
        self.assertEqual(body_of(el), 'are you there')

    def test_unknown_user(self):
        a = self.login('alice')
        a.message('nosuchuser@localhost', 'hello?', mid='unk')
        el = a.recv_message()
        self.assertStanzaError(el, 'message', 'cancel', 'service-unavailable',
                               frm='nosuchuser@localhost', to=a.jid, sid='unk')

    def test_unknown_user_full_jid(self):
        a = self.login('alice')
        a.message('nosuchuser@localhost/res', 'hello?', mid='unkf')
        el = a.recv_message()
        self.assertStanzaError(el, 'message', 'cancel', 'service-unavailable', to=a.jid,
                               sid='unkf')

    def test_full_jid_of_gone_resource_goes_to_bare(self):
        # RFC 6120 §10.5.4.1 allows delivering a chat message to an absent resource as if to
        # the bare JID; Starling does so
        a = self.login('alice')
        b = self.login('bob')
        a.message('bob@localhost/' + unique('gone'), 'redirected')
        el = b.recv_message()
        self.assertEqual(body_of(el), 'redirected')

    def test_remote_domain(self):
        a = self.login('alice')
        a.message('someone@remote.example', 'far away', mid='rem')
        el = a.recv_message()
        self.assertStanzaError(el, 'message', 'cancel', 'remote-server-not-found',
                               frm='someone@remote.example', to=a.jid, sid='rem')

    def test_error_message_not_answered(self):
        a = self.login('alice')
        a.send("<message to='nosuchuser@localhost' type='error' id='e1'><error type='cancel'>"
               "<item-not-found xmlns='%s'/></error></message>" % NS_STANZAS)
        a.expect_no_stanza(0.5)

    def test_message_without_to_is_for_own_account(self):
        # RFC 6120 §10.3.1: no 'to' means the sender's bare JID
        a = self.login('alice', priority=3)
        a.send("<message type='chat' id='self1'><body>to myself</body></message>")
        el = a.recv_message()
        self.assertEqual(body_of(el), 'to myself')
        self.assertEqual(el.get('from'), a.jid)

    def test_addresses_are_prepared(self):
        a = self.login('alice')
        b = self.login('bob')
        res = b.jid.split('/', 1)[1]
        a.message('BOB@LocalHost/' + res, 'case folded')
        self.assertEqual(body_of(b.recv_message()), 'case folded')

    def test_spoofed_from_refused(self):
        a = self.login('alice')
        self.login('bob')
        a.send("<message to='bob@localhost' from='bob@localhost/x'><body>spoof</body></message>")
        self.assertStreamError(a, 'invalid-from')

    def test_own_bare_from_accepted(self):
        a = self.login('alice')
        b = self.login('bob')
        a.send("<message to='%s' from='alice@localhost'><body>bare from</body></message>"
               % b.jid)
        el = b.recv_message()
        self.assertEqual(body_of(el), 'bare from')
        self.assertEqual(el.get('from'), a.jid)

    def test_many_messages_in_order(self):
        a = self.login('alice')
        b = self.login('bob')
        a.send(''.join("<message to='%s' type='chat' id='o%d'><body>%d</body></message>"
                       % (b.jid, i, i) for i in range(200)))
        got = [body_of(b.recv_message()) for _ in range(200)]
        self.assertEqual(got, [str(i) for i in range(200)])


class Iq(harness.TestCase):
    def test_iq_unknown_full_jid(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='jabber:iq:version'/>", to='bob@localhost/nowhere')
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable',
                               frm='bob@localhost/nowhere', to=a.jid)

    def test_iq_unknown_user(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='jabber:iq:version'/>", to='nosuchuser@localhost/r')
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable')

    def test_iq_between_users(self):
        a = self.login('alice')
        b = self.login('bob')
        a.send("<iq type='get' id='v1' to='%s'><query xmlns='jabber:iq:version'/></iq>" % b.jid)
        req = b.recv_match(lambda e: e.tag == q(NS_CLIENT, 'iq'))
        self.assertEqual((req.get('type'), req.get('id'), req.get('from')), ('get', 'v1', a.jid))
        b.send("<iq type='result' id='v1' to='%s'><query xmlns='jabber:iq:version'><name>B</name>"
               "</query></iq>" % a.jid)
        res = a.recv_match(lambda e: e.tag == q(NS_CLIENT, 'iq'))
        self.assertResult(res, sid='v1', frm=b.jid)
        self.assertEqual(res.find('{jabber:iq:version}query/{jabber:iq:version}name').text, 'B')

    def test_iq_unhandled_namespace_to_server(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='urn:example:nothing'/>", to='localhost')
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable', frm='localhost')
        # the request payload comes back with the error
        self.assertIsNotNone(r.find('{urn:example:nothing}query'), to_string(r))

    def test_iq_set_unhandled_to_server(self):
        a = self.login('alice')
        r = a.iq('set', "<ping xmlns='urn:xmpp:ping'/>", to='localhost')
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable', frm='localhost')

    def test_iq_unhandled_to_bare_jid(self):
        a = self.login('alice')
        self.login('bob')
        r = a.iq('get', "<query xmlns='urn:example:nothing'/>", to='bob@localhost')
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable', frm='bob@localhost')

    def test_iq_unhandled_without_to(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='urn:example:nothing'/>")
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable')

    def test_iq_remote_domain(self):
        a = self.login('alice')
        r = a.iq('get', "<ping xmlns='urn:xmpp:ping'/>", to='remote.example')
        self.assertStanzaError(r, 'iq', 'cancel', 'remote-server-not-found',
                               frm='remote.example', to=a.jid)

    def test_iq_result_to_server_ignored(self):
        a = self.login('alice')
        a.send("<iq type='result' id='unsolicited' to='localhost'/>")
        a.send("<iq type='error' id='unsolicited2' to='localhost'><error type='cancel'>"
               "<bad-request xmlns='%s'/></error></iq>" % NS_STANZAS)
        a.expect_no_stanza(0.5)

    def test_iq_two_payloads(self):
        a = self.login('alice')
        a.send("<iq type='get' id='two' to='localhost'><ping xmlns='urn:xmpp:ping'/>"
               "<ping xmlns='urn:xmpp:ping'/></iq>")
        el = a.recv_match(lambda e: e.get('id') == 'two')
        self.assertStanzaError(el, 'iq', 'modify', 'bad-request')

    def test_iq_get_without_payload(self):
        a = self.login('alice')
        a.send("<iq type='get' id='none' to='localhost'/>")
        el = a.recv_match(lambda e: e.get('id') == 'none')
        self.assertStanzaError(el, 'iq', 'modify', 'bad-request')

    def test_iq_bad_type(self):
        a = self.login('alice')
        a.send("<iq type='fetch' id='bt' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        el = a.recv_match(lambda e: e.get('id') == 'bt')
        self.assertStanzaError(el, 'iq', 'modify', 'bad-request')


class OverlongJids(harness.TestCase):
    """RFC 7622 §3: each part of a JID is at most 1023 bytes."""

    def test_localpart_1024(self):
        a = self.login('alice')
        a.message('%s@localhost' % ('a' * 1024), 'x', mid='l1024')
        el = a.recv_message()
        self.assertStanzaError(el, 'message', 'modify', 'jid-malformed', sid='l1024')

    def test_localpart_1023_is_valid(self):
        a = self.login('alice')
        a.message('%s@localhost' % ('a' * 1023), 'x', mid='l1023')
        el = a.recv_message()
        self.assertStanzaError(el, 'message', 'cancel', 'service-unavailable', sid='l1023')

    def test_localpart_multibyte_over_1023_bytes(self):
        a = self.login('alice')
        a.message('%s@localhost' % ('é' * 512), 'x', mid='mb')  # 1024 bytes, 512 characters
        el = a.recv_message()
        self.assertStanzaError(el, 'message', 'modify', 'jid-malformed', sid='mb')

    def test_resource_1024(self):
        a = self.login('alice')
        a.message('bob@localhost/%s' % ('r' * 1024), 'x', mid='r1024')
        el = a.recv_message()
        self.assertStanzaError(el, 'message', 'modify', 'jid-malformed', sid='r1024')

    def test_domain_1024(self):
        a = self.login('alice')
        domain = '.'.join(['a' * 63] * 17)  # 1087 bytes
        a.message('bob@%s' % domain, 'x', mid='d1024')
        el = a.recv_message()
        self.assertStanzaError(el, 'message', 'modify', 'jid-malformed', sid='d1024')

    def test_iq_to_overlong(self):
        a = self.login('alice')
        r = a.iq('get', "<ping xmlns='urn:xmpp:ping'/>", to='%s@localhost' % ('b' * 2000))
        self.assertStanzaError(r, 'iq', 'modify', 'jid-malformed')

    def test_empty_localpart(self):
        a = self.login('alice')
        a.message('@localhost', 'x', mid='empty')
        el = a.recv_message()
        self.assertStanzaError(el, 'message', 'modify', 'jid-malformed', sid='empty')

    def test_session_survives(self):
        a = self.login('alice')
        b = self.login('bob')
        a.message('%s@localhost' % ('a' * 5000), 'x')
        self.assertEqual(rawq(a.recv_message()), 'jid-malformed')
        a.message(b.jid, 'still here')
        self.assertEqual(body_of(b.recv_message()), 'still here')


def rawq(el):
    from rawxmpp import stanza_error
    return stanza_error(el)[1]


class Stream(harness.TestCase):
    def test_whitespace_keepalives(self):
        # RFC 6120 §4.6.1: whitespace between stanzas is allowed everywhere
        c = self.client()
        c.send(c.header() + '\n  \n')
        c.features = c.recv_match(lambda e: e.tag == q('http://etherx.jabber.org/streams',
                                                       'features'), skip=False)
        c.send(' \n\t ')
        c.starttls()
        c.send('\n')
        c.authenticate('alice', PASSWORD)
        c.send('  ')
        c.bind(unique('ws'))
        for _ in range(3):
            c.send(' ')
            self.assertResult(c.iq('get', "<ping xmlns='urn:xmpp:ping'/>", to='localhost'))

    def test_pipelined_restart_and_bind(self):
        # after <success/> the new stream header and the bind request may come in one packet
        c = self.client()
        c.start()
        result, _ = c.auth_plain('alice', PASSWORD)
        self.assertEqual(result, 'success')
        c._new_parser()
        c.stream_ended = False
        c.send(c.header() + "<iq type='set' id='pb'><bind xmlns='%s'><resource>piped"
               "</resource></bind></iq>" % NS_BIND)
        el = c.recv_match(lambda e: e.get('id') == 'pb')
        self.assertResult(el)
        self.assertEqual(el.find('{%s}bind/{%s}jid' % (NS_BIND, NS_BIND)).text,
                         'alice@localhost/piped')

    def test_pipelined_header_and_auth_after_tls(self):
        c = self.client()
        c.open_stream()
        c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        c.recv()
        c._wrap_tls()
        c._new_parser()
        import base64
        c.send(c.header() + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
               "%s</auth>" % base64.b64encode(b'\0alice\0' + PASSWORD.encode()).decode())
        el = c.recv_match(lambda e: e.tag == '{urn:ietf:params:xml:ns:xmpp-sasl}success')
        self.assertIsNotNone(el)


class MoreRouting(harness.TestCase):
    def login_second(self, user='dora', resource=None):
        c = SRV.client(domain=SECOND, cafile=SRV.second_cert)
        self.addCleanup(c.close)
        c.login(user, PASSWORD, resource=resource or unique(), presence=True)
        return c

    def test_second_host_certificate(self):
        # SNI: a stream to second.test gets second.test's certificate
        c = self.login_second()
        self.assertTrue(c.jid.startswith('dora@second.test/'), c.jid)

    def test_between_hosts(self):
        a = self.login('alice')
        d = self.login_second()
        a.message(d.jid, 'cross host full')
        el = d.recv_message()
        self.assertEqual((body_of(el), el.get('from')), ('cross host full', a.jid))
        a.message('dora@second.test', 'cross host bare')
        self.assertEqual(body_of(d.recv_message()), 'cross host bare')
        d.message(a.jid, 'back')
        self.assertEqual(body_of(a.recv_message()), 'back')

    def test_unknown_user_on_second_host(self):
        a = self.login('alice')
        a.message('alice@second.test', 'not here', mid='sh')
        self.assertStanzaError(a.recv_message(), 'message', 'cancel', 'service-unavailable',
                               frm='alice@second.test', sid='sh')

    def test_second_host_has_its_own_modules(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='urn:starling:test:hello'/>", to=SECOND)
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable', frm=SECOND)
        self.assertResult(a.iq('get', "<ping xmlns='urn:xmpp:ping'/>", to=SECOND), frm=SECOND)

    def test_host_switch_after_auth_refused(self):
        # authenticated as alice@localhost, the restarted stream may not name another host
        c = self.client()
        c.start()
        self.assertEqual(c.auth_plain('alice', PASSWORD), ('success', None))
        c._new_parser()
        c.stream_ended = False
        c.send(c.header(to=SECOND))
        self.assertStreamError(c, 'host-unknown')
        self.assertNotIn('alice@second.test', ' '.join(SRV.connected()))

    def test_same_name_on_two_hosts_is_two_accounts(self):
        c = self.client(domain=SECOND, cafile=SRV.second_cert)
        c.start()
        self.assertEqual(c.auth_plain('alice', PASSWORD), ('failure', 'not-authorized'))

    def test_message_to_server_domain(self):
        a = self.login('alice')
        a.message('localhost', 'hello server', mid='srv')
        self.assertStanzaError(a.recv_message(), 'message', 'cancel', 'service-unavailable',
                               frm='localhost', sid='srv')

    def test_presence_to_unknown_user_is_dropped(self):
        a = self.login('alice')
        a.send("<presence to='nosuchuser@localhost' type='subscribe'/>")
        a.send("<presence to='nosuchuser@localhost'/>")
        a.expect_no_stanza(0.5)

    def test_directed_presence_delivered(self):
        a = self.login('alice')
        b = self.login('bob')
        a.send("<presence to='%s'><status>hi bob</status></presence>" % b.jid)
        el = b.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence'))
        self.assertEqual(el.get('from'), a.jid)
        self.assertEqual(el.find(q(NS_CLIENT, 'status')).text, 'hi bob')

    def test_many_resources_same_priority(self):
        a = self.login('alice')
        bs = [self.login('bob', priority=4) for _ in range(8)]
        a.message('bob@localhost', 'to all eight')
        for b in bs:
            self.assertEqual(body_of(b.recv_message()), 'to all eight')
