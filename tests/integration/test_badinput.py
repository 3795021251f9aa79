# SPDX-License-Identifier: ISC
# Hostile and broken input (RFC 6120 §4.9, §11): each attack runs while two normal clients keep
# chatting on the same server (harness.Chatter), and their messages must keep arriving.

import base64
import resource
import selectors
import socket
import time

import harness
from harness import PASSWORD, unique
from rawxmpp import NS_BIND, NS_CLIENT, NS_SASL, NS_TLS, q, to_string

SRV = None
USERS = ['chat-a', 'chat-b', 'alice', 'bob', 'slow', 'flood']
LIMITS = {
    'max_stanza_size_preauth': '4k',
    'max_stanza_size': '64k',
    'output_high_water': '64k',
    'max_depth': 32,
    'max_attributes': 64,
}


def setUpModule():
    global SRV
    SRV = harness.module_server('badinput', limits=LIMITS,
                                accounts={u: PASSWORD for u in USERS})


def tearDownModule():
    harness.module_teardown(SRV)


def body_of(el):
    b = el.find(q(NS_CLIENT, 'body'))
    return None if b is None else b.text


class Base(harness.TestCase):
    def chatting(self, srv=None):
        return harness.Chatter(srv or SRV)

    def raw_open(self, kind='starttls'):
        """A client whose stream is open (features received), before TLS."""
        c = self.client(kind)
        c.open_stream()
        return c

    def authed(self, user='alice'):
        return self.login(user)


class StreamErrors(Base):
    def test_not_well_formed_before_auth(self):
        with self.chatting():
            c = self.raw_open()
            c.send('<foo><bar></foo>')
            self.assertStreamError(c, 'not-well-formed')

    def test_not_well_formed_after_auth(self):
        with self.chatting():
            c = self.authed()
            c.send("<message to='bob@localhost'><body>x</message>")
            self.assertStreamError(c, 'not-well-formed')

    def test_not_well_formed_header(self):
        with self.chatting():
            c = self.client()
            c.send("<?xml version='1.0'?><stream:stream to='localhost' <<<>")
            self.assertStreamError(c, 'not-well-formed')

    def test_garbage_bytes(self):
        with self.chatting():
            c = self.client()
            c.send(bytes(range(1, 32)) + b'\x00\xff' * 100)
            self.assertStreamError(c, 'not-well-formed')

    def test_unbound_prefix(self):
        with self.chatting():
            c = self.authed()
            c.send("<message to='bob@localhost'><foo:body>x</foo:body></message>")
            cond, _ = c.stream_error()
            self.assertIn(cond, ('not-well-formed', 'bad-namespace-prefix'))

    def test_doctype(self):
        with self.chatting():
            c = self.client()
            c.send("<?xml version='1.0'?><!DOCTYPE stream:stream>" + c.header(decl=False))
            self.assertStreamError(c, 'restricted-xml')

    def test_entity_declaration(self):
        with self.chatting():
            c = self.client()
            c.send("<?xml version='1.0'?><!DOCTYPE s [<!ENTITY e 'boom'>]>"
                   + c.header(decl=False) + '&e;')
            self.assertStreamError(c, 'restricted-xml')

    def test_billion_laughs(self):
        with self.chatting():
            c = self.client()
            ents = "<!ENTITY l0 'lol'>" + ''.join(
                "<!ENTITY l%d '%s'>" % (i, ('&l%d;' % (i - 1)) * 10) for i in range(1, 10))
            c.send("<?xml version='1.0'?><!DOCTYPE s [%s]>" % ents + c.header(decl=False)
                   + "<message>&l9;</message>")
            self.assertStreamError(c, 'restricted-xml')

    def test_comment_before_auth(self):
        with self.chatting():
            c = self.raw_open()
            c.send('<!-- a comment -->')
            self.assertStreamError(c, 'restricted-xml')

    def test_comment_after_auth(self):
        with self.chatting():
            c = self.authed()
            c.send("<message to='bob@localhost'><!-- hidden --><body>x</body></message>")
            self.assertStreamError(c, 'restricted-xml')

    def test_processing_instruction(self):
        with self.chatting():
            c = self.authed()
            c.send("<?evil instruction?>")
            self.assertStreamError(c, 'restricted-xml')

    def test_processing_instruction_before_auth(self):
        with self.chatting():
            c = self.raw_open()
            c.send("<?xml-stylesheet href='x'?>")
            self.assertStreamError(c, 'restricted-xml')

    def test_undefined_entity(self):
        with self.chatting():
            c = self.authed()
            c.send("<message to='bob@localhost'><body>&nbsp;</body></message>")
            cond, _ = c.stream_error()
            # RFC 6120 §11.1 forbids entity references other than the predefined ones
            self.assertIn(cond, ('restricted-xml', 'not-well-formed'))

    def test_wrong_stream_namespace(self):
        with self.chatting():
            c = self.client()
            c.send(c.header(stream_ns='http://example.com/not-streams'))
            self.assertStreamError(c, 'invalid-namespace')

    def test_wrong_default_namespace(self):
        with self.chatting():
            c = self.client()
            c.send(c.header(xmlns='jabber:server'))
            self.assertStreamError(c, 'invalid-namespace')

    def test_unknown_host(self):
        with self.chatting():
            c = self.client()
            c.send(c.header(to='unknown.example'))
            self.assertStreamError(c, 'host-unknown')

    def test_unknown_host_after_tls(self):
        with self.chatting():
            c = self.client()
            c.open_stream()
            c.send("<starttls xmlns='%s'/>" % NS_TLS)
            self.assertEqual(c.recv().tag, q(NS_TLS, 'proceed'))
            c._wrap_tls()
            c._new_parser()
            c.send(c.header(to='unknown.example'))
            self.assertStreamError(c, 'host-unknown')

    def test_unsupported_version(self):
        with self.chatting():
            c = self.client()
            c.send(c.header(version='2.0'))
            self.assertStreamError(c, 'unsupported-version')

    def test_unsupported_encoding(self):
        with self.chatting():
            c = self.client()
            c.send("<?xml version='1.0' encoding='ISO-8859-1'?>" + c.header(decl=False))
            self.assertStreamError(c, 'unsupported-encoding')

    def test_stanza_before_tls(self):
        with self.chatting() as ch:
            c = self.raw_open()
            c.send("<message to='%s'><body>sneaky</body></message>" % ch.b.jid)
            self.assertStreamError(c, 'not-authorized')

    def test_stanza_after_tls_before_auth(self):
        with self.chatting() as ch:
            c = self.client()
            c.start()
            c.send("<message to='%s'><body>sneaky</body></message>" % ch.b.jid)
            self.assertStreamError(c, 'not-authorized')

    def test_iq_before_auth(self):
        with self.chatting():
            c = self.client()
            c.start()
            c.send("<iq type='get' id='x' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
            self.assertStreamError(c, 'not-authorized')

    def test_client_closes_stream(self):
        with self.chatting():
            c = self.authed()
            c.send('</stream:stream>')
            self.assertTrue(c.read_to_eof(5))
            self.assertTrue(c.stream_ended, c.received[-200:])


class Limits(Base):
    def test_oversized_stanza_before_auth(self):
        with self.chatting():
            c = self.client()
            c.start()
            # under the 4k pre-authentication limit: an ordinary SASL failure
            c.send("<auth xmlns='%s' mechanism='X-UNKNOWN'>%s</auth>" % (NS_SASL, 'A' * 3500))
            self.assertEqual(c.failure_condition(c.sasl_recv()), 'invalid-mechanism')
            c.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (NS_SASL, 'A' * 5000))
            self.assertStreamError(c, 'policy-violation')

    def test_oversized_stanza_before_tls(self):
        with self.chatting():
            c = self.raw_open()
            c.send("<starttls xmlns='%s' a='%s'/>" % (NS_TLS, 'x' * 5000))
            self.assertStreamError(c, 'policy-violation')

    def test_oversized_header_before_auth(self):
        with self.chatting():
            c = self.client()
            c.send(c.header(extra=" junk='%s'" % ('j' * 8000)))
            self.assertStreamError(c, 'policy-violation')

    def test_oversized_stanza_after_auth(self):
        with self.chatting():
            c = self.authed()
            c.presence(priority=1)
            # 60k is allowed after authentication: it comes back to ourselves
            big = 'b' * 60000
            c.send("<message id='big'><body>%s</body></message>" % big)
            self.assertEqual(body_of(c.recv_message(timeout=10)), big)
            c.send("<message id='huge'><body>%s</body></message>" % ('h' * 70000))
            self.assertStreamError(c, 'policy-violation')

    def test_oversized_in_small_pieces(self):
        # the limit counts bytes of one stanza, however they arrive
        with self.chatting():
            c = self.authed()
            c.send("<message to='bob@localhost'><body>")
            try:
                for _ in range(80):
                    c.send('x' * 1000)
                c.send('</body></message>')
            except OSError:
                pass  # the server may close before all of it is sent
            self.assertStreamError(c, 'policy-violation')

    def test_too_deep(self):
        with self.chatting():
            c = self.authed()
            c.send("<message to='bob@localhost'>" + '<a>' * 40 + '</a>' * 40 + '</message>')
            self.assertStreamError(c, 'policy-violation')

    def test_too_many_attributes(self):
        with self.chatting():
            c = self.authed()
            attrs = ' '.join("a%d='v'" % i for i in range(100))
            c.send("<message to='bob@localhost' %s><body>x</body></message>" % attrs)
            self.assertStreamError(c, 'policy-violation')

    def test_many_attributes_under_limit(self):
        with self.chatting():
            c = self.authed()
            c.presence(priority=1)
            attrs = ' '.join("a%d='v'" % i for i in range(60))
            c.send("<message><body>ok</body><x xmlns='urn:example:a' %s/></message>" % attrs)
            el = c.recv_message()
            self.assertEqual(len(el.find('{urn:example:a}x').attrib), 60)


class Utf8(Base):
    CASES = {
        'invalid byte': b'\xff\xfe',
        'overlong slash': b'\xc0\xaf',
        'surrogate': b'\xed\xa0\x80',
        'truncated sequence': b'\xe2\x9c<',
        'beyond U+10FFFF': b'\xf4\x90\x80\x80',
        'lone continuation': b'\x80',
    }

    def test_invalid_utf8_after_auth(self):
        for name, bad in self.CASES.items():
            with self.subTest(name=name), self.chatting():
                c = self.authed()
                c.send(b"<message to='bob@localhost'><body>a" + bad + b"b</body></message>")
                self.assertStreamError(c, 'not-well-formed')
                c.close()

    def test_invalid_utf8_in_header(self):
        with self.chatting():
            c = self.client()
            c.send(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                   b"xmlns:stream='http://etherx.jabber.org/streams' to='local\xffhost' "
                   b"version='1.0'>")
            self.assertStreamError(c, 'not-well-formed')

    def test_invalid_utf8_in_attribute(self):
        with self.chatting():
            c = self.authed()
            c.send(b"<message to='bob@local\xc3host'><body>x</body></message>")
            self.assertStreamError(c, 'not-well-formed')

    def test_split_character_is_fine(self):
        with self.chatting():
            c = self.authed()
            c.presence(priority=1)
            c.send(b"<message id='split'><body>\xe2\x9c")
            time.sleep(0.2)
            c.send(b"\x93 \xf0\x9f")
            time.sleep(0.2)
            c.send(b"\x98\x80</body></message>")
            self.assertEqual(body_of(c.recv_message()), '\u2713 \U0001F600')


class StartTls(Base):
    def test_plaintext_after_starttls_is_discarded(self):
        # RFC 6120 §5.4.3.3 / CVE-2011-0411 class: bytes pipelined after <starttls/> in the
        # same packet must not be read as part of the TLS layer or the next stream
        with self.chatting() as ch:
            c = self.client()
            c.open_stream()
            inject = (c.header() +
                      "<auth xmlns='%s' mechanism='PLAIN'>%s</auth>"
                      % (NS_SASL, base64.b64encode(b'\0alice\0' + PASSWORD.encode()).decode()) +
                      "<message to='%s'><body>INJECTED</body></message>" % ch.b.jid)
            c.send("<starttls xmlns='%s'/>" % NS_TLS + inject)
            el = c.recv()
            self.assertEqual(el.tag, q(NS_TLS, 'proceed'), to_string(el))
            c._wrap_tls()  # the handshake must succeed: the plaintext was not fed to TLS
            f = c.open_stream()
            # not authenticated by the injected <auth/>: SASL is offered again
            self.assertIn('PLAIN', c.mechanisms(), to_string(f))
            self.assertIsNone(f.find('{urn:ietf:params:xml:ns:xmpp-bind}bind'), to_string(f))
            c.authenticate('alice', PASSWORD)
            c.bind(unique('tls'))
            self.assertResult(c.iq('get', "<ping xmlns='urn:xmpp:ping'/>", to='localhost'))
            c.expect_no_stanza(0.3)

    def test_plaintext_after_starttls_only_injection(self):
        with self.chatting():
            c = self.client()
            c.open_stream()
            c.send("<starttls xmlns='%s'/><iq type='get' id='inj'><ping "
                   "xmlns='urn:xmpp:ping'/></iq>" % NS_TLS)
            self.assertEqual(c.recv().tag, q(NS_TLS, 'proceed'))
            c._wrap_tls()
            c.open_stream()
            self.assertEqual(c.queue, [])
            c.authenticate('alice', PASSWORD)

    def test_garbage_instead_of_tls_handshake(self):
        with self.chatting():
            c = self.client()
            c.open_stream()
            c.send("<starttls xmlns='%s'/>" % NS_TLS)
            self.assertEqual(c.recv().tag, q(NS_TLS, 'proceed'))
            c.send(b'this is not a TLS ClientHello\r\n' * 10)
            self.assertTrue(c.read_to_eof(10), 'connection still open after a bad handshake')

    def test_plaintext_on_direct_tls_port(self):
        with self.chatting():
            s = socket.create_connection(('127.0.0.1', SRV.port_tls), timeout=10)
            self.addCleanup(s.close)
            s.sendall(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                      b"xmlns:stream='http://etherx.jabber.org/streams' to='localhost' "
                      b"version='1.0'>")
            s.settimeout(10)
            data = b''
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except (ConnectionResetError, socket.timeout):
                pass
            self.assertNotIn(b'<stream:features', data)


class Sasl(Base):
    def test_malformed_scram_burst(self):
        with self.chatting():
            c = self.client()
            c.start()
            for payload in [b'', b'x', b'n,,', b'n,,n=alice', b'n,,n=alice,r=' + b'a' * 2000,
                            b'\xff\xfe', b'p=' + b'x' * 200 + b',,n=a,r=b']:
                c.sasl_send('auth', payload, mechanism='SCRAM-SHA-1')
                el = c.sasl_recv()
                self.assertEqual(el.tag, q(NS_SASL, 'failure'), to_string(el))
            self.assertEqual(c.auth_scram('alice', PASSWORD, 'SCRAM-SHA-1')[0], 'success')

    def test_overlong_jids_burst(self):
        with self.chatting():
            c = self.client()
            c.start()
            c.authenticate('alice', PASSWORD)
            c.send("<iq type='set' id='b1'><bind xmlns='%s'><resource>%s</resource></bind></iq>"
                   % (NS_BIND, 'r' * 3000))
            el = c.recv_match(lambda e: e.get('id') == 'b1')
            self.assertStanzaError(el, 'iq', 'modify', 'bad-request')
            c.bind(unique('ok'))
            for to in ['%s@localhost' % ('u' * 1024), 'u@%s' % ('d' * 1100),
                       'u@localhost/%s' % ('r' * 1024)]:
                c.message(to, 'x', mid='long')
                el = c.recv_message()
                self.assertStanzaError(el, 'message', 'modify', 'jid-malformed', sid='long')


class Vanishing(Base):
    """Clients that disconnect while the server waits on storage or a worker for them: the
    answers must find nothing to write to (run this under ASan to see use-after-free)."""

    def test_disconnect_during_async_work(self):
        with self.chatting():
            for i in range(30):
                c = self.client()
                c.start()
                kind = i % 3
                if kind == 0:   # PLAIN: the password check runs on a worker
                    c.sasl_send('auth', b'\0alice\0' + PASSWORD.encode(), mechanism='PLAIN')
                elif kind == 1:  # SCRAM: the keys are looked up in storage
                    c.sasl_send('auth', b'n,,n=alice,r=abcdefgh', mechanism='SCRAM-SHA-256')
                else:           # a message to an offline account: the router asks storage
                    c.authenticate('alice', PASSWORD)
                    c.bind(unique('gone'))
                    c.message('bob@localhost', 'bye', mid='gone')
                    c.send('</stream:stream>')
                c.close()
            time.sleep(0.5)
            self.assertTrue(SRV.alive())


class SlowReader(Base):
    def test_client_that_never_reads_is_disconnected(self):
        # the slow client asks for a small receive buffer and then never reads; a flooder
        # sends it headline messages (never bounced) until the server's queue for it passes
        # limits.output_high_water
        with self.chatting():
            slow = self.client(rcvbuf=4096)
            slow.login('slow', PASSWORD, resource='sleepy', presence=True)
            self.addCleanup(slow.close)
            flood = self.authed('flood')
            payload = 'z' * 30000
            sent = 0
            deadline = time.monotonic() + 60
            while 'slow@localhost/sleepy' in SRV.connected():
                self.assertLess(time.monotonic(), deadline,
                                'the slow reader is still connected after %d bytes' % sent)
                for _ in range(20):
                    flood.send("<message to='slow@localhost/sleepy' type='headline'>"
                               "<body>%s</body></message>" % payload)
                    sent += len(payload)
                self.assertLess(sent, 100 * 1024 * 1024, 'never disconnected')
            # the flooder is a normal client and is still served
            self.assertResult(flood.iq('get', "<ping xmlns='urn:xmpp:ping'/>", to='localhost'))
            self.assertTrue(SRV.alive())
            # the slow client's connection is gone: draining it ends with EOF or a reset
            self.assertTrue(slow.read_to_eof(30))


class IdleConnections(harness.TestCase):
    """1,000 connections that never send a byte: all closed after auth_timeout, memory back."""

    server = None

    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 4096:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))

    def setUp(self):
        # a fresh server per test: its memory must not depend on what ran before
        super().setUp()
        self.server = harness.module_server('idle', limits={'auth_timeout': '2s'},
                                            accounts={'chat-a': PASSWORD, 'chat-b': PASSWORD})
        self.addCleanup(harness.module_teardown, self.server)

    def open_idle(self, n_plain, n_tls):
        socks = []
        for i in range(n_plain + n_tls):
            port = self.server.port_c2s if i < n_plain else self.server.port_tls
            s = socket.create_connection(('127.0.0.1', port), timeout=10)
            s.setblocking(False)
            socks.append(s)
        return socks

    def wait_all_closed(self, socks, timeout):
        """Reads every socket until EOF; returns (closed count, how many got a
        connection-timeout stream error)."""
        sel = selectors.DefaultSelector()
        data = {}
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
            data[s] = b''
        remaining = len(socks)
        deadline = time.monotonic() + timeout
        while remaining and time.monotonic() < deadline:
            for key, _ in sel.select(0.5):
                s = key.fileobj
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b''
                if chunk:
                    data[s] += chunk
                else:
                    sel.unregister(s)
                    remaining -= 1
        sel.close()
        timed_out = sum(1 for v in data.values() if b'connection-timeout' in v)
        return len(socks) - remaining, timed_out

    def idle_round(self):
        """Opens 800 plain and 200 direct-TLS connections that send nothing and waits until
        the server closed them all; returns the RSS (kB) while they were open."""
        srv = self.server
        t0 = time.monotonic()
        socks = self.open_idle(800, 200)
        try:
            time.sleep(0.5)
            rss_peak = srv.rss_kb()
            closed, timed_out = self.wait_all_closed(socks, timeout=30)
            elapsed = time.monotonic() - t0
        finally:
            for s in socks:
                s.close()
        self.assertEqual(closed, 1000, 'connections left open after %.1fs' % elapsed)
        # every plain one was told why (RFC 6120 §4.9.3.4)
        self.assertEqual(timed_out, 800)
        self.assertGreaterEqual(elapsed, 1.5, 'closed before auth_timeout')
        time.sleep(1.0)
        return rss_peak

    def test_thousand_idle_connections(self):
        srv = self.server
        with harness.Chatter(srv):
            time.sleep(0.5)
            rss_before = srv.rss_kb()
            rss_peak = self.idle_round()
            rss_after = srv.rss_kb()
            msg = 'RSS before %d kB, with 1000 connections %d kB, after %d kB' % (
                rss_before, rss_peak, rss_after)
            # and the server still takes new clients
            c = srv.login('chat-a', resource='after')
            self.addCleanup(c.close)
        # Under AddressSanitizer RSS says nothing (freed memory is quarantined); there the
        # rounds above still had to close every connection, and LeakSanitizer checks at stop.
        if not harness.sanitized():
            # what stays is the allocator's and libevent's bookkeeping (~2 MiB), not the
            # connections: 1000 of them cost 3.3 MiB at the peak
            self.assertLessEqual(rss_after - rss_before,
                                 max(2560, (rss_peak - rss_before) // 2),
                                 'RSS does not go back down: ' + msg)

    def test_idle_connections_do_not_leak(self):
        # whatever the allocator keeps, repeating the same load must not keep growing
        srv = self.server
        with harness.Chatter(srv):
            for _ in range(2):
                self.idle_round()
            rss_warm = srv.rss_kb()
            for _ in range(2):
                self.idle_round()
            rss_later = srv.rss_kb()
        msg = 'RSS after two rounds %d kB, after four %d kB' % (rss_warm, rss_later)
        if not harness.sanitized():  # see above: LeakSanitizer covers the sanitized build
            self.assertLessEqual(rss_later - rss_warm, 2048, msg)
