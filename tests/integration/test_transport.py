# SPDX-License-Identifier: ISC
# The c2s transport (src/net/io.c) driven with raw sockets: TLS flights, half-close, slow readers.

import socket
import ssl
import struct
import time

import harness
from harness import PASSWORD

SRV = None
USERS = ['alice', 'bob', 'slow']
LIMITS = {'output_high_water': '64k', 'max_stanza_size': '64k'}
HEADER = ("<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")


def setUpModule():
    global SRV
    SRV = harness.module_server('transport', limits=LIMITS,
                                accounts={u: PASSWORD for u in USERS})


def tearDownModule():
    harness.module_teardown(SRV)


def tls_ctx(version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = version
    ctx.maximum_version = version
    return ctx


class MemTLS:
    """A TLS client over a raw socket through memory BIOs: the test decides what leaves in one
    send()."""

    def __init__(self, sock, version):
        self.sock = sock
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.obj = tls_ctx(version).wrap_bio(self.inc, self.out, server_hostname='localhost')

    def pending_out(self):
        return self.out.read()

    def handshake(self, hold_last_flight=False):
        """Runs the handshake; with hold_last_flight the client's last flight is returned
        instead of sent."""
        deadline = time.time() + 10
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                data = self.pending_out()
                if data:
                    self.sock.sendall(data)
                self.sock.settimeout(max(0.1, deadline - time.time()))
                got = self.sock.recv(65536)
                if not got:
                    raise ConnectionError('closed during the handshake')
                self.inc.write(got)
        last = self.pending_out()
        if hold_last_flight:
            return last
        if last:
            self.sock.sendall(last)
        return b''

    def wrap(self, data):
        self.obj.write(data)
        return self.pending_out()

    def read_until(self, needle, timeout=10):
        deadline = time.time() + timeout
        text = b''
        while needle not in text:
            try:
                while True:
                    text += self.obj.read(65536)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                break
            if needle in text:
                break
            left = deadline - time.time()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                got = self.sock.recv(65536)
            except socket.timeout:
                break
            if not got:
                self.inc.write_eof()
                break
            self.inc.write(got)
        return text


def read_plain_until(sock, needle, timeout=10):
    deadline = time.time() + timeout
    text = b''
    while needle not in text and time.time() < deadline:
        sock.settimeout(max(0.05, deadline - time.time()))
        try:
            got = sock.recv(65536)
        except socket.timeout:
            break
        if not got:
            break
        text += got
    return text


def wait_eof(sock, timeout=10):
    """True when the server closes the connection within timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(0.05, deadline - time.time()))
        try:
            if sock.recv(65536) == b'':
                return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
    return False


class DirectTLS(harness.TestCase):
    def flight(self, version):
        """The stream header leaves in the same segment as the client's Finished."""
        sock = socket.create_connection(('127.0.0.1', self.srv.port_tls))
        self.addCleanup(sock.close)
        t = MemTLS(sock, version)
        last = t.handshake(hold_last_flight=True)
        sock.sendall(last + t.wrap(HEADER.encode()))
        text = t.read_until(b'</stream:features>')
        self.assertIn(b'<stream:features', text)
        self.assertIn(b'mechanisms', text)

    def test_header_with_finished_tls13(self):
        self.flight(ssl.TLSVersion.TLSv1_3)

    def test_header_with_finished_tls12(self):
        self.flight(ssl.TLSVersion.TLSv1_2)


class HalfClose(harness.TestCase):
    def test_plain_end_and_shutdown(self):
        """</stream:stream> then FIN: the server still answers with its own end, then closes."""
        sock = socket.create_connection(('127.0.0.1', self.srv.port_c2s))
        self.addCleanup(sock.close)
        sock.sendall(HEADER.encode())
        read_plain_until(sock, b'</stream:features>')
        sock.sendall(b'</stream:stream>')
        sock.shutdown(socket.SHUT_WR)
        text = read_plain_until(sock, b'</stream:stream>')
        self.assertIn(b'</stream:stream>', text)
        self.assertTrue(wait_eof(sock))

    def tls_end_with_close_notify(self, version):
        """The last record, the close_notify and the FIN in one flight (read-ahead holds them
        all): the server's </stream:stream> must still leave."""
        sock = socket.create_connection(('127.0.0.1', self.srv.port_tls))
        self.addCleanup(sock.close)
        t = MemTLS(sock, version)
        t.handshake()
        sock.sendall(t.wrap(HEADER.encode()))
        t.read_until(b'</stream:features>')
        data = t.wrap(b'</stream:stream>')
        try:
            t.obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        sock.sendall(data + t.pending_out())
        sock.shutdown(socket.SHUT_WR)
        text = t.read_until(b'</stream:stream>')
        self.assertIn(b'</stream:stream>', text)
        self.assertTrue(wait_eof(sock))

    def test_tls13_end_with_close_notify(self):
        self.tls_end_with_close_notify(ssl.TLSVersion.TLSv1_3)

    def test_tls12_end_with_close_notify(self):
        self.tls_end_with_close_notify(ssl.TLSVersion.TLSv1_2)

    def test_abrupt_close_mid_record_and_rst(self):
        """Half a TLS record then a cut, and a RST: the server forgets both, others carry on."""
        with harness.Chatter(self.srv, 'alice', 'bob'):
            sock = socket.create_connection(('127.0.0.1', self.srv.port_tls))
            t = MemTLS(sock, ssl.TLSVersion.TLSv1_3)
            t.handshake()
            rec = t.wrap(HEADER.encode())
            sock.sendall(rec[:len(rec) // 2])
            sock.close()
            sock = socket.create_connection(('127.0.0.1', self.srv.port_c2s))
            sock.sendall(HEADER.encode())
            read_plain_until(sock, b'</stream:features>')
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            sock.close()  # linger 0: RST
            time.sleep(0.3)


class StartTLS(harness.TestCase):
    def test_pipelined_plaintext_is_not_read_after_tls(self):
        """Plain XML pipelined after <starttls/> is discarded (RFC 6120 §5.4.3.3: nothing from
        before TLS counts), never parsed as if it came over TLS."""
        c = self.client()
        c.open_stream()
        c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
               "<iq type='get' id='injected'><ping xmlns='urn:xmpp:ping'/></iq>")
        c.recv()  # <proceed/>
        c._wrap_tls()
        c.open_stream()
        self.assertNotIn("injected", c.received)
        c.expect_no_stanza(0.5)


def cpu_ticks(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def stanza_of_size(to, size, mid):
    head = "<message to='%s' type='chat' id='%s'><body>" % (to, mid)
    tail = '</body></message>'
    return head + 'a' * (size - len(head) - len(tail)) + tail


class BigInput(harness.TestCase):
    def test_stanza_at_the_limit_over_many_records(self):
        """A stanza of exactly max_stanza_size, in 1000-byte TLS records, is delivered; one
        byte more is a policy violation."""
        alice = self.login('alice')
        bob = self.login('bob')
        st = stanza_of_size(bob.jid, 64 * 1024, 'exact')
        self.assertEqual(len(st), 65536)
        for i in range(0, len(st), 1000):
            alice.send(st[i:i + 1000])
        m = bob.recv_message(timeout=10)
        self.assertEqual(m.get('id'), 'exact')
        self.assertEqual(m.find('{jabber:client}body').text, st[st.index('<body>') + 6:
                                                                 st.index('</body>')])
        alice.send(stanza_of_size(bob.jid, 64 * 1024 + 1, 'over'))
        self.assertStreamError(alice, 'policy-violation')

    def test_megabyte_while_held(self):
        """1 MB of messages right behind a roster get (the session is held for storage): the
        read limit pauses and resumes reading, everything arrives in order, and the server
        does not spin."""
        alice = self.login('alice')
        bob = self.login('bob')
        body = 'm' * 2000
        n = 500
        out = ["<iq type='get' id='roster1'><query xmlns='jabber:iq:roster'/></iq>"]
        for i in range(n):
            out.append("<message to='%s' type='chat' id='m%d'><body>%s</body></message>"
                       % (bob.jid, i, body))
        alice.send(''.join(out))
        for i in range(n):
            m = bob.recv_message(timeout=20)
            self.assertEqual(m.get('id'), 'm%d' % i)
        # idle again: no busy loop left behind
        time.sleep(0.2)
        pid = self.srv.pid()
        before = cpu_ticks(pid)
        time.sleep(1.0)
        spent = cpu_ticks(pid) - before
        self.assertLess(spent, 20, 'starlingd used %d ticks in an idle second' % spent)


class SlowReaders(harness.TestCase):
    def test_slow_but_under_the_limit_gets_everything_in_order(self):
        slow = self.client(rcvbuf=4096)
        slow.login('slow', PASSWORD, resource='snail', presence=True)
        alice = self.login('alice')
        n = 200
        for i in range(n):
            alice.send("<message to='slow@localhost/snail' type='headline' id='h%d'>"
                       "<body>%s</body></message>" % (i, 'x' * 200))
            if i % 20 == 19:
                time.sleep(0.05)
        for i in range(n):
            m = slow.recv_message(timeout=20)
            self.assertEqual(m.get('id'), 'h%d' % i)
            if i % 50 == 0:
                time.sleep(0.05)

    def test_never_reads_is_cut_with_a_log_line_others_unaffected(self):
        since = self.srv.log_size()
        with harness.Chatter(self.srv, 'alice', 'bob'):
            slow = self.client(rcvbuf=4096)
            slow.login('slow', PASSWORD, resource='sleepy', presence=True)
            flood = self.login('alice')
            deadline = time.monotonic() + 60
            while 'slow@localhost/sleepy' in self.srv.connected():
                self.assertLess(time.monotonic(), deadline, 'never disconnected')
                for _ in range(20):
                    flood.send("<message to='slow@localhost/sleepy' type='headline'>"
                               "<body>%s</body></message>" % ('z' * 30000))
            self.srv.wait_log(r'peer does not read \(\d+ bytes queued\), disconnecting',
                              since=since)
            self.assertTrue(slow.read_to_eof(30))

    def test_pipelined_client_hello(self):
        """A ClientHello pipelined right behind <starttls/> (RFC 6120 §5.4.2.3: the client MUST
        wait for <proceed/>) is dropped with the other pre-TLS bytes: never parsed as XML, no
        handshake on it, and the connection does not stay open past auth_timeout."""
        sock = socket.create_connection(('127.0.0.1', self.srv.port_c2s))
        self.addCleanup(sock.close)
        sock.sendall(HEADER.encode())
        read_plain_until(sock, b'</stream:features>')
        t = MemTLS(sock, ssl.TLSVersion.TLSv1_3)
        try:
            t.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = t.pending_out()
        self.assertTrue(hello)
        sock.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + hello)
        text = read_plain_until(sock, b'<proceed', timeout=5)
        self.assertIn(b'<proceed', text)
        start = time.time()
        rest = b''
        sock.settimeout(15)
        try:
            while True:
                got = sock.recv(65536)
                if not got:
                    break
                rest += got
        except ConnectionResetError:
            pass
        self.assertLess(time.time() - start, 14)
        self.assertNotIn(b'<stream:error', rest)
        self.assertNotIn(b'<failure', rest)
