# SPDX-License-Identifier: ISC
# A small raw XMPP client over plain sockets + ssl, with a SCRAM client, for protocol-level tests.
#
# Everything here is deliberately low level: the tests need exact control over the bytes sent
# (malformed XML, pipelining, broken SCRAM messages) and exact sight of what comes back.
#
# Channel binding: tls-server-end-point (RFC 5929 §4) is computed here from the server
# certificate. tls-exporter (RFC 9266) cannot be: Python's ssl module has no way to export
# keying material, so SCRAM-*-PLUS with tls-exporter is tested by a C client elsewhere.

import base64
import hashlib
import hmac
import os
import re
import socket
import ssl
import time
import xml.etree.ElementTree as ET

NS_CLIENT = 'jabber:client'
NS_STREAM = 'http://etherx.jabber.org/streams'
NS_STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls'
NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl'
NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind'
NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session'
NS_SASL_CB = 'urn:xmpp:sasl-cb:0'

DEFAULT_TIMEOUT = 10.0


def q(ns, name):
    """Clark notation, as ElementTree names elements: {ns}name."""
    return '{%s}%s' % (ns, name)


def xml_escape(text):
    return (text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
            .replace("'", '&apos;').replace('"', '&quot;'))


def to_string(el):
    return ET.tostring(el, encoding='unicode')


class StreamClosed(Exception):
    """The server closed the stream or the connection; .data holds what was still received."""


class Timeout(Exception):
    pass


class ProtocolError(Exception):
    pass


# ---- SCRAM (RFC 5802, RFC 7677) ----

SCRAM_HASHES = {
    'SCRAM-SHA-1': 'sha1',
    'SCRAM-SHA-256': 'sha256',
    'SCRAM-SHA-512': 'sha512',
}


def scram_hash_of(mech):
    return SCRAM_HASHES[mech[:-5] if mech.endswith('-PLUS') else mech]


def saslname(name):
    return name.replace('=', '=3D').replace(',', '=2C')


class ScramClient:
    """One SCRAM exchange, step by step, so tests can break any message on purpose."""

    def __init__(self, mech, user, password, cb_type=None, cb_data=b'', authzid=None,
                 cnonce=None, gs2_flag=None):
        self.mech = mech
        self.hash = scram_hash_of(mech)
        self.user = user
        self.password = password
        self.cb_type = cb_type
        self.cb_data = cb_data
        self.cnonce = cnonce or base64.b64encode(os.urandom(18)).decode()
        if gs2_flag is None:
            gs2_flag = 'p=%s' % cb_type if cb_type else 'n'
        self.gs2_header = '%s,%s,' % (gs2_flag, 'a=' + saslname(authzid) if authzid else '')
        self.client_first_bare = 'n=%s,r=%s' % (saslname(user), self.cnonce)
        self.server_signature = None
        self.server_first = None

    def first(self):
        return (self.gs2_header + self.client_first_bare).encode()

    def _h(self, data):
        return hashlib.new(self.hash, data).digest()

    def _hmac(self, key, data):
        return hmac.new(key, data, self.hash).digest()

    @staticmethod
    def parse(msg):
        attrs = {}
        for part in msg.split(','):
            if len(part) < 2 or part[1] != '=':
                raise ProtocolError('bad SCRAM attribute %r in %r' % (part, msg))
            attrs[part[0]] = part[2:]
        return attrs

    def final(self, server_first, nonce=None, cbind=None, proof=None):
        """The client-final-message for server_first (bytes). The keyword arguments replace
        the nonce, the c= value (base64 text) or the proof (base64 text) to break them."""
        self.server_first = server_first.decode()
        attrs = self.parse(self.server_first)
        if not attrs['r'].startswith(self.cnonce) or len(attrs['r']) <= len(self.cnonce):
            raise ProtocolError('server nonce does not extend ours: %r' % self.server_first)
        salt = base64.b64decode(attrs['s'])
        iterations = int(attrs['i'])
        self.iterations = iterations
        salted = hashlib.pbkdf2_hmac(self.hash, self.password.encode(), salt, iterations)
        client_key = self._hmac(salted, b'Client Key')
        stored_key = self._h(client_key)
        server_key = self._hmac(salted, b'Server Key')
        if cbind is None:
            cbind = base64.b64encode(self.gs2_header.encode() + self.cb_data).decode()
        without_proof = 'c=%s,r=%s' % (cbind, nonce if nonce is not None else attrs['r'])
        auth_message = ','.join([self.client_first_bare, self.server_first, without_proof])
        client_sig = self._hmac(stored_key, auth_message.encode())
        real_proof = bytes(a ^ b for a, b in zip(client_key, client_sig))
        self.server_signature = self._hmac(server_key, auth_message.encode())
        if proof is None:
            proof = base64.b64encode(real_proof).decode()
        return ('%s,p=%s' % (without_proof, proof)).encode()

    def verify(self, server_final):
        """True when the server's v= is the signature we expect."""
        attrs = self.parse(server_final.decode())
        return 'v' in attrs and base64.b64decode(attrs['v']) == self.server_signature


# ---- tls-server-end-point (RFC 5929 §4.1) ----

# signatureAlgorithm OIDs (DER content bytes) → the hash the certificate is signed with.
_SIG_OIDS = {
    '1.2.840.113549.1.1.4': 'md5',      # md5WithRSAEncryption
    '1.2.840.113549.1.1.5': 'sha1',     # sha1WithRSAEncryption
    '1.2.840.113549.1.1.11': 'sha256',  # sha256WithRSAEncryption
    '1.2.840.113549.1.1.12': 'sha384',
    '1.2.840.113549.1.1.13': 'sha512',
    '1.2.840.10045.4.1': 'sha1',        # ecdsa-with-SHA1
    '1.2.840.10045.4.3.2': 'sha256',    # ecdsa-with-SHA256
    '1.2.840.10045.4.3.3': 'sha384',
    '1.2.840.10045.4.3.4': 'sha512',
}


def _der_read(data, pos):
    """(tag, content start, content end) of the DER element at pos."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7f
        length = int.from_bytes(data[pos:pos + n], 'big')
        pos += n
    return tag, pos, pos + length


def _oid_text(content):
    first = content[0]
    parts = [first // 40, first % 40]
    value = 0
    for b in content[1:]:
        value = (value << 7) | (b & 0x7f)
        if not b & 0x80:
            parts.append(value)
            value = 0
    return '.'.join(str(p) for p in parts)


def cert_signature_hash(der):
    """The hash name of the certificate's signatureAlgorithm (None when it has none we know)."""
    tag, start, _ = _der_read(der, 0)            # Certificate ::= SEQUENCE
    assert tag == 0x30
    tag, _, tbs_end = _der_read(der, start)      # tbsCertificate
    tag, alg_start, _ = _der_read(der, tbs_end)  # signatureAlgorithm ::= SEQUENCE
    assert tag == 0x30
    tag, oid_start, oid_end = _der_read(der, alg_start)
    assert tag == 0x06
    return _SIG_OIDS.get(_oid_text(der[oid_start:oid_end]))


def tls_server_end_point(der):
    """RFC 5929 §4.1: the certificate hashed with its signature hash, MD5 and SHA-1 → SHA-256."""
    h = cert_signature_hash(der)
    if h is None:
        raise ProtocolError('certificate signature algorithm without a known hash')
    if h in ('md5', 'sha1'):
        h = 'sha256'
    return hashlib.new(h, der).digest()


# ---- the client ----

class RawClient:
    """A synchronous XMPP client that sends exactly what it is told and parses what comes back.

    Elements received at depth 1 of the stream are queued as ElementTree elements; .received
    keeps all text received on the current connection, for assertions on the raw form."""

    def __init__(self, port, host='127.0.0.1', domain='localhost', direct_tls=False,
                 cafile=None, timeout=DEFAULT_TIMEOUT, rcvbuf=None, connect=True):
        self.host = host
        self.port = port
        self.domain = domain
        self.direct_tls = direct_tls
        self.cafile = cafile
        self.timeout = timeout
        self.rcvbuf = rcvbuf
        self.sock = None
        self.tls = False
        self.closed = False
        self.received = ''
        self.queue = []
        self.skipped = []
        self.stream_header = None
        self.stream_ended = False
        self.features = None
        self.jid = None
        self.id_counter = 0
        self._pending = b''
        self._new_parser()
        if connect:
            self.connect()

    # -- connection --

    def connect(self):
        family = socket.AF_INET6 if ':' in self.host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        if self.rcvbuf is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        s.settimeout(self.timeout)
        s.connect((self.host, self.port))
        self.local_port = s.getsockname()[1]
        self.sock = s
        if self.direct_tls:
            self._wrap_tls()

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.cafile)
        if self.cafile is None:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _wrap_tls(self):
        self.sock = self.ssl_context().wrap_socket(self.sock, server_hostname=self.domain)
        self.tls = True

    def peer_certificate(self):
        return self.sock.getpeercert(binary_form=True)

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- output --

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def next_id(self, prefix='id'):
        self.id_counter += 1
        return '%s%d' % (prefix, self.id_counter)

    # -- input --

    def _new_parser(self):
        self.parser = ET.XMLPullParser(events=('start', 'end'))
        self.depth = 0
        self.root = None

    def _feed(self, data):
        """Feeds received bytes to the parser; complete depth-1 elements go to the queue."""
        data = self._pending + data
        # keep an incomplete UTF-8 sequence for the next read so .received stays text
        cut = len(data)
        for back in range(1, min(4, len(data)) + 1):
            b = data[-back]
            if b & 0xC0 == 0x80:
                continue
            if b & 0x80:
                need = 2 if b & 0xE0 == 0xC0 else 3 if b & 0xF0 == 0xE0 else 4
                if need > back:
                    cut = len(data) - back
            break
        self._pending = data[cut:]
        data = data[:cut]
        self.received += data.decode('utf-8', errors='replace')
        self.parser.feed(data)
        for event, el in self.parser.read_events():
            if event == 'start':
                if self.depth == 0:
                    self.root = el
                    self.stream_header = el
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 1:
                    self.queue.append(el)
                    self.root.remove(el)
                elif self.depth == 0:
                    self.stream_ended = True

    def _read_some(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Timeout('nothing more from the server; received so far: %r'
                          % self.received[-2000:])
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout('nothing more from the server; received so far: %r'
                          % self.received[-2000:])
        except (ConnectionResetError, ssl.SSLError, BrokenPipeError) as e:
            self.closed = True
            raise StreamClosed('connection lost (%s); received: %r' % (e, self.received[-2000:]))
        if not data:
            self.closed = True
            raise StreamClosed('connection closed by the server; received: %r'
                               % self.received[-2000:])
        self._feed(data)

    def recv(self, timeout=None):
        """The next depth-1 element; Timeout or StreamClosed when there is none."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while not self.queue:
            if self.stream_ended:
                raise StreamClosed('stream closed by the server; received: %r'
                                   % self.received[-2000:])
            self._read_some(deadline)
        return self.queue.pop(0)

    def recv_match(self, pred, timeout=None, skip=True):
        """The first element for which pred(el) holds. Elements before it are dropped when
        skip, else kept in the queue for later recv calls."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            for i, el in enumerate(self.queue):
                if pred(el):
                    del self.queue[i]
                    return el
            if skip:
                self.skipped.extend(self.queue)
                self.queue.clear()
            if self.stream_ended:
                raise StreamClosed('stream closed while waiting; received: %r'
                                   % self.received[-2000:])
            self._read_some(deadline)

    def read_until(self, pattern, timeout=None):
        """Reads until the raw text matches the regex pattern; returns the match."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        rx = re.compile(pattern, re.S)
        while True:
            m = rx.search(self.received)
            if m:
                return m
            self._read_some(deadline)

    def read_to_eof(self, timeout=None):
        """Reads until the server closes the connection; returns True when it did in time."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        try:
            while True:
                self._read_some(deadline)
        except StreamClosed:
            return True
        except Timeout:
            return False

    def expect_no_stanza(self, timeout=0.5):
        """Asserts nothing arrives within timeout."""
        try:
            el = self.recv(timeout=timeout)
        except Timeout:
            return
        raise AssertionError('unexpected element: %s' % to_string(el))

    # -- stream negotiation --

    def header(self, to=None, xmlns=NS_CLIENT, stream_ns=NS_STREAM, version='1.0',
               decl=True, extra=''):
        to = self.domain if to is None else to
        return ("%s<stream:stream xmlns='%s' xmlns:stream='%s'%s version='%s'%s>"
                % ("<?xml version='1.0'?>" if decl else '', xmlns, stream_ns,
                   " to='%s'" % to if to else '', version, extra))

    def open_stream(self, to=None, **kw):
        """Sends a stream header, returns the <stream:features/> element."""
        self._new_parser()
        self.stream_ended = False
        self.stream_header = None
        self.send(self.header(to=to, **kw))
        self.features = self.recv_match(lambda el: el.tag == q(NS_STREAM, 'features'),
                                        skip=False)
        return self.features

    def mechanisms(self):
        m = self.features.find(q(NS_SASL, 'mechanisms'))
        return [] if m is None else [x.text for x in m.findall(q(NS_SASL, 'mechanism'))]

    def channel_binding_types(self):
        cb = self.features.find(q(NS_SASL_CB, 'sasl-channel-binding'))
        return None if cb is None else [x.get('type') for x in cb.findall(q(NS_SASL_CB,
                                                                            'channel-binding'))]

    def starttls(self):
        """STARTTLS (RFC 6120 §5) then a new stream; returns the new features."""
        self.send("<starttls xmlns='%s'/>" % NS_TLS)
        el = self.recv()
        if el.tag != q(NS_TLS, 'proceed'):
            raise ProtocolError('STARTTLS refused: %s' % to_string(el))
        self._wrap_tls()
        return self.open_stream()

    def start(self):
        """Connects the stream up to the SASL features (STARTTLS first unless direct TLS)."""
        self.open_stream()
        if not self.tls:
            self.starttls()
        return self.features

    def sasl_send(self, element, payload=None, mechanism=None):
        attr = " mechanism='%s'" % mechanism if mechanism else ''
        if payload is None:
            self.send("<%s xmlns='%s'%s/>" % (element, NS_SASL, attr))
        else:
            text = base64.b64encode(payload).decode() if payload else '='
            self.send("<%s xmlns='%s'%s>%s</%s>" % (element, NS_SASL, attr, text, element))

    def sasl_recv(self):
        el = self.recv()
        if el.tag not in (q(NS_SASL, 'challenge'), q(NS_SASL, 'success'),
                          q(NS_SASL, 'failure')):
            raise ProtocolError('unexpected SASL answer: %s' % to_string(el))
        return el

    @staticmethod
    def sasl_data(el):
        text = (el.text or '').strip()
        return b'' if text in ('', '=') else base64.b64decode(text)

    @staticmethod
    def failure_condition(el):
        """The condition name of a SASL <failure/>."""
        assert el.tag == q(NS_SASL, 'failure'), to_string(el)
        conds = [c.tag.split('}')[1] for c in el if c.tag != q(NS_SASL, 'text')]
        assert len(conds) == 1, to_string(el)
        return conds[0]

    def cb_data(self, cb_type):
        if cb_type == 'tls-server-end-point':
            return tls_server_end_point(self.peer_certificate())
        raise ProtocolError('channel binding %s is not available in Python' % cb_type)

    def auth_scram(self, user, password, mech='SCRAM-SHA-256', cb_type=None, authzid=None):
        """A whole SCRAM exchange. Returns ('success', scram) or ('failure', condition)."""
        if mech.endswith('-PLUS') and cb_type is None:
            cb_type = 'tls-server-end-point'
        cb_data = self.cb_data(cb_type) if cb_type else b''
        sc = ScramClient(mech, user, password, cb_type=cb_type, cb_data=cb_data,
                         authzid=authzid)
        self.sasl_send('auth', sc.first(), mechanism=mech)
        el = self.sasl_recv()
        if el.tag == q(NS_SASL, 'failure'):
            return 'failure', self.failure_condition(el)
        if el.tag != q(NS_SASL, 'challenge'):
            raise ProtocolError('expected a challenge: %s' % to_string(el))
        self.sasl_send('response', sc.final(self.sasl_data(el)))
        el = self.sasl_recv()
        if el.tag == q(NS_SASL, 'failure'):
            return 'failure', self.failure_condition(el)
        if el.tag != q(NS_SASL, 'success'):
            raise ProtocolError('expected success: %s' % to_string(el))
        if not sc.verify(self.sasl_data(el)):
            raise ProtocolError('server signature does not verify: %s' % to_string(el))
        self.scram = sc
        return 'success', sc

    def auth_plain(self, user, password, authzid=''):
        payload = ('%s\0%s\0%s' % (authzid, user, password)).encode()
        self.sasl_send('auth', payload, mechanism='PLAIN')
        el = self.sasl_recv()
        if el.tag == q(NS_SASL, 'failure'):
            return 'failure', self.failure_condition(el)
        if el.tag != q(NS_SASL, 'success'):
            raise ProtocolError('expected success: %s' % to_string(el))
        return 'success', None

    def authenticate(self, user, password, mech='SCRAM-SHA-256', **kw):
        if mech == 'PLAIN':
            result, detail = self.auth_plain(user, password, **kw)
        else:
            result, detail = self.auth_scram(user, password, mech, **kw)
        if result != 'success':
            raise ProtocolError('authentication of %s with %s failed: %s'
                                % (user, mech, detail))
        self.open_stream()
        return self.features

    def bind(self, resource=None):
        """Binds; returns the full JID the server gave."""
        iid = self.next_id('bind')
        inner = ('<resource>%s</resource>' % xml_escape(resource)) if resource is not None else ''
        self.send("<iq type='set' id='%s'><bind xmlns='%s'>%s</bind></iq>"
                  % (iid, NS_BIND, inner))
        el = self.recv_match(lambda e: e.get('id') == iid)
        if el.get('type') != 'result':
            raise ProtocolError('bind failed: %s' % to_string(el))
        self.jid = el.find(q(NS_BIND, 'bind')).find(q(NS_BIND, 'jid')).text
        return self.jid

    def login(self, user, password, resource=None, mech='SCRAM-SHA-256', presence=False,
              priority=None):
        self.start()
        self.authenticate(user, password, mech)
        self.bind(resource)
        if presence:
            self.presence(priority=priority)
            self.sync()
        return self

    def sync(self):
        """A round trip to the server (an iq nobody handles, so that it needs no module):
        what was sent before it has been handled."""
        self.iq('get', "<query xmlns='urn:starling:itest:sync'/>", to=self.domain)

    def presence(self, priority=None, show=None, status=None, ptype=None):
        inner = ''
        if show:
            inner += '<show>%s</show>' % show
        if status is not None:
            inner += '<status>%s</status>' % xml_escape(status)
        if priority is not None:
            inner += '<priority>%d</priority>' % priority
        self.send('<presence%s>%s</presence>' % (" type='%s'" % ptype if ptype else '', inner))

    # -- stanzas --

    def iq(self, itype, payload, to=None, timeout=None):
        """Sends an iq and returns the response with the same id."""
        iid = self.next_id('iq')
        self.send("<iq type='%s' id='%s'%s>%s</iq>"
                  % (itype, iid, " to='%s'" % xml_escape(to) if to is not None else '', payload))
        return self.recv_match(lambda e: e.tag == q(NS_CLIENT, 'iq') and e.get('id') == iid,
                               timeout=timeout)

    def message(self, to, body, mid=None, mtype='chat', extra=''):
        mid = mid or self.next_id('msg')
        self.send("<message to='%s' type='%s' id='%s'><body>%s</body>%s</message>"
                  % (xml_escape(to), mtype, mid, xml_escape(body), extra))
        return mid

    def recv_message(self, timeout=None, pred=None):
        return self.recv_match(lambda e: e.tag == q(NS_CLIENT, 'message') and
                               (pred is None or pred(e)), timeout=timeout)

    def stream_error(self, timeout=None):
        """Waits for a stream error; returns (condition, text or None). Asserts the stream
        is then closed with </stream:stream>."""
        el = self.recv_match(lambda e: e.tag == q(NS_STREAM, 'error'), timeout=timeout)
        conds = [c.tag for c in el if c.tag != q(NS_STREAMS, 'text')]
        if len(conds) != 1 or not conds[0].startswith('{%s}' % NS_STREAMS):
            raise AssertionError('stream error without exactly one condition: %s'
                                 % to_string(el))
        text = el.find(q(NS_STREAMS, 'text'))
        return conds[0].split('}')[1], (text.text if text is not None else None)


def stanza_error(el):
    """(type, condition, text) of the <error/> child of a stanza, asserting its form."""
    err = el.find(q(NS_CLIENT, 'error'))
    if err is None:
        raise AssertionError('no <error/> in %s' % to_string(el))
    conds = [c.tag for c in err if c.tag != q(NS_STANZAS, 'text')]
    if len(conds) != 1 or not conds[0].startswith('{%s}' % NS_STANZAS):
        raise AssertionError('stanza error without exactly one condition: %s' % to_string(el))
    text = err.find(q(NS_STANZAS, 'text'))
    return err.get('type'), conds[0].split('}')[1], (text.text if text is not None else None)
