# SPDX-License-Identifier: ISC
# Stream negotiation and SASL: every mechanism over STARTTLS, direct TLS and IPv6, failures,
# malformed SCRAM messages, channel binding (tls-server-end-point; tls-exporter needs a C client).

import base64
import os
import subprocess
import unittest

import harness
from harness import PASSWORD, unique
from rawxmpp import (NS_BIND, NS_SASL, NS_SASL_CB, NS_SESSION, NS_STREAM, NS_TLS, ScramClient,
                     q, to_string)

SRV = None
USERS = {'alice': PASSWORD, 'bob': PASSWORD, 'zoë': 'pässwörd ünïcode'}

SCRAM_MECHS = ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-512']
PLUS_MECHS = [m + '-PLUS' for m in SCRAM_MECHS]
ALL_MECHS = SCRAM_MECHS + ['PLAIN'] + PLUS_MECHS


def setUpModule():
    global SRV
    SRV = harness.module_server('auth', accounts=USERS)


def tearDownModule():
    harness.module_teardown(SRV)


def kinds():
    return ['starttls', 'direct'] + (['v6'] if harness.have_ipv6() else [])


class Features(harness.TestCase):
    def test_stream_header(self):
        c = self.client()
        c.open_stream()
        h = c.stream_header
        self.assertEqual(h.tag, q(NS_STREAM, 'stream'))
        self.assertEqual(h.get('from'), 'localhost')
        self.assertEqual(h.get('version'), '1.0')
        self.assertTrue(h.get('id'), 'the stream header has no id')
        self.assertIn("xmlns='jabber:client'", c.received.split('>')[1] + '>')

    def test_stream_header_echoes_from_as_to(self):
        # RFC 6120 §4.7.2: the response header's 'to' is the initiator's 'from'
        c = self.client()
        c.open_stream(extra=" from='Alice@LocalHost'")
        self.assertEqual(c.stream_header.get('to'), 'alice@localhost')
        d = self.client()
        d.open_stream()
        self.assertIsNone(d.stream_header.get('to'))

    def test_new_stream_id_on_each_restart(self):
        # RFC 6120 §4.7.3 / §5.4.3.3 / §6.4.6: every stream gets a fresh id
        c = self.client()
        c.open_stream()
        ids = [c.stream_header.get('id')]
        c.starttls()
        ids.append(c.stream_header.get('id'))
        c.authenticate('alice', PASSWORD)
        ids.append(c.stream_header.get('id'))
        other = self.client()
        other.open_stream()
        ids.append(other.stream_header.get('id'))
        self.assertTrue(all(ids), ids)
        self.assertEqual(len(set(ids)), 4, ids)

    def test_features_before_tls(self):
        c = self.client()
        f = c.open_stream()
        self.assertEqual([x.tag for x in f], [q(NS_TLS, 'starttls')], to_string(f))
        self.assertEqual([x.tag for x in f[0]], [q(NS_TLS, 'required')], to_string(f))

    def check_sasl_features(self, c):
        self.assertEqual(sorted(c.mechanisms()), sorted(ALL_MECHS), to_string(c.features))
        self.assertIsNone(c.features.find(q(NS_TLS, 'starttls')), to_string(c.features))
        self.assertIsNone(c.features.find(q(NS_BIND, 'bind')), to_string(c.features))
        # XEP-0440: Python's TLS 1.3 gives the server an exporter, and the certificate an
        # end-point hash
        self.assertEqual(sorted(c.channel_binding_types() or []),
                         ['tls-exporter', 'tls-server-end-point'], to_string(c.features))

    def test_features_after_starttls(self):
        c = self.client()
        c.start()
        self.check_sasl_features(c)

    def test_features_direct_tls(self):
        c = self.client('direct')
        c.start()
        self.check_sasl_features(c)

    def test_features_after_auth(self):
        c = self.client()
        c.start()
        f = c.authenticate('alice', PASSWORD)
        tags = [x.tag for x in f]
        self.assertIn(q(NS_BIND, 'bind'), tags)
        self.assertIn(q(NS_SESSION, 'session'), tags)
        self.assertEqual([x.tag for x in f.find(q(NS_SESSION, 'session'))],
                         [q(NS_SESSION, 'optional')])
        self.assertIsNone(f.find(q(NS_SASL, 'mechanisms')))
        self.assertIsNone(f.find(q(NS_TLS, 'starttls')))

    def test_certificate_is_the_configured_one(self):
        c = self.client('direct')
        with open(SRV.cert) as f:
            import ssl
            pem = f.read()
        self.assertEqual(c.peer_certificate(), ssl.PEM_cert_to_DER_cert(pem))

    def test_sasl_before_tls_refused(self):
        # RFC 6120 §5.3.1 / §6.4.5: TLS is mandatory here, so SASL before it fails; a SASL
        # <failure/> must carry a condition (encryption-required fits, §6.5.4)
        c = self.client()
        c.open_stream()
        c.sasl_send('auth', b'\0alice\0' + PASSWORD.encode(), mechanism='PLAIN')
        el = c.recv()
        self.assertEqual(el.tag, q(NS_SASL, 'failure'), to_string(el))
        self.assertEqual(c.failure_condition(el), 'encryption-required', to_string(el))

    def test_starttls_twice_fails(self):
        c = self.client()
        c.start()
        c.send("<starttls xmlns='%s'/>" % NS_TLS)
        el = c.recv()
        self.assertEqual(el.tag, q(NS_TLS, 'failure'), to_string(el))
        self.assertTrue(c.read_to_eof(5))


def make_login_test(mech, kind):
    def test(self):
        c = self.client(kind)
        c.start()
        self.assertIn(mech, c.mechanisms())
        if mech == 'PLAIN':
            result, detail = c.auth_plain('alice', PASSWORD)
        else:
            result, detail = c.auth_scram('alice', PASSWORD, mech)
        self.assertEqual(result, 'success', detail)
        if mech != 'PLAIN':
            self.assertEqual(detail.iterations, 4096)
        c.open_stream()
        res = unique('login')
        self.assertEqual(c.bind(res), 'alice@localhost/' + res)
        r = c.iq('get', "<ping xmlns='urn:xmpp:ping'/>", to='localhost')
        self.assertResult(r, frm='localhost')
        info = [line.split('\t') for line in SRV.ctl_ok('user_sessions_info', 'alice',
                                                         'localhost').splitlines()]
        mine = [i for i in info if i[7] == res]
        self.assertEqual(len(mine), 1, info)
        conn = {'starttls': 'c2s_starttls', 'direct': 'c2s_tls', 'v6': 'c2s_starttls'}[kind]
        ip = '::1' if kind == 'v6' else '127.0.0.1'
        self.assertEqual(mine[0][0:3], [conn, ip, str(c.local_port)])
    return test


class Login(harness.TestCase):
    pass


for _mech in ALL_MECHS:
    for _kind in ['starttls', 'direct', 'v6']:
        _name = 'test_%s_%s' % (_mech.lower().replace('-', '_'), _kind)
        _t = make_login_test(_mech, _kind)
        if _kind == 'v6' and not harness.have_ipv6():
            _t = unittest.skip('no IPv6 on this machine')(_t)
        setattr(Login, _name, _t)


class LoginMore(harness.TestCase):
    def test_unicode_user_and_password_scram(self):
        c = self.client()
        c.start()
        self.assertEqual(c.auth_scram('zoë', USERS['zoë'], 'SCRAM-SHA-256')[0], 'success')

    def test_unicode_user_and_password_plain(self):
        c = self.client()
        c.start()
        self.assertEqual(c.auth_plain('zoë', USERS['zoë'])[0], 'success')
        c.open_stream()
        self.assertEqual(c.bind('x'), 'zoë@localhost/x')

    def test_username_is_case_mapped(self):
        # RFC 8265 UsernameCaseMapped: ALICE and Alice are alice
        c = self.client()
        c.start()
        self.assertEqual(c.auth_plain('ALICE', PASSWORD), ('success', None))
        c.open_stream()
        self.assertEqual(c.bind('upper'), 'alice@localhost/upper')
        c2 = self.client()
        c2.start()
        self.assertEqual(c2.auth_scram('Alice', PASSWORD, 'SCRAM-SHA-256')[0], 'success')
        c2.open_stream()
        self.assertEqual(c2.bind('mixed'), 'alice@localhost/mixed')

    def test_stream_to_is_prepared(self):
        c = self.client()
        c.open_stream(to='LocalHost')
        self.assertEqual(c.stream_header.get('from'), 'localhost')

    def test_plain_authzid_own_jid(self):
        c = self.client()
        c.start()
        self.assertEqual(c.auth_plain('alice', PASSWORD, authzid='alice@localhost'),
                         ('success', None))

    def test_plain_authzid_other_jid(self):
        c = self.client()
        c.start()
        self.assertEqual(c.auth_plain('alice', PASSWORD, authzid='bob@localhost'),
                         ('failure', 'invalid-authzid'))

    def test_scram_authzid_other_jid(self):
        c = self.client()
        c.start()
        self.assertEqual(c.auth_scram('alice', PASSWORD, 'SCRAM-SHA-1', authzid='bob@localhost'),
                         ('failure', 'invalid-authzid'))

    def test_server_chosen_resource(self):
        c = self.client()
        c.start()
        c.authenticate('alice', PASSWORD)
        jid = c.bind(None)
        self.assertTrue(jid.startswith('alice@localhost/') and len(jid) > len('alice@localhost/'),
                        jid)
        c2 = self.client()
        c2.start()
        c2.authenticate('alice', PASSWORD)
        self.assertNotEqual(c2.bind(None), jid)

    def test_empty_resource_is_server_chosen(self):
        c = self.client()
        c.start()
        c.authenticate('alice', PASSWORD)
        jid = c.bind('')
        self.assertRegex(jid, r'^alice@localhost/.+')

    def test_legacy_session(self):
        c = self.login('alice', presence=False)
        r = c.iq('set', "<session xmlns='%s'/>" % NS_SESSION)
        self.assertResult(r)
        self.assertEqual(len(r), 0, to_string(r))

    def test_legacy_session_before_bind(self):
        c = self.client()
        c.start()
        c.authenticate('alice', PASSWORD)
        r = c.iq('set', "<session xmlns='%s'/>" % NS_SESSION)
        self.assertResult(r)
        c.bind('after-session')

    def test_stanza_before_bind_refused(self):
        c = self.client()
        c.start()
        c.authenticate('alice', PASSWORD)
        c.send("<message to='bob@localhost'><body>early</body></message>")
        self.assertStreamError(c, 'not-authorized')

    def test_bind_twice(self):
        c = self.login('alice', presence=False)
        r = c.iq('set', "<bind xmlns='%s'><resource>again</resource></bind>" % NS_BIND)
        self.assertStanzaError(r, 'iq', 'cancel', 'not-allowed')

    def test_sasl_after_auth_refused(self):
        c = self.client()
        c.start()
        c.authenticate('alice', PASSWORD)
        c.sasl_send('auth', b'\0alice\0' + PASSWORD.encode(), mechanism='PLAIN')
        # after authentication <auth/> is not a stanza at all
        self.assertStreamError(c, 'unsupported-stanza-type')

    def test_tls_server_end_point_sha384_certificate(self):
        # RFC 5929 §4.1: the end-point hash follows the certificate's signature hash
        srv = harness.module_server('sha384', cert_digest='sha384', accounts={'alice': PASSWORD})
        try:
            c = srv.client()
            self.addCleanup(c.close)
            c.start()
            from rawxmpp import cert_signature_hash
            self.assertEqual(cert_signature_hash(c.peer_certificate()), 'sha384')
            self.assertEqual(c.auth_scram('alice', PASSWORD, 'SCRAM-SHA-256-PLUS')[0], 'success')
            c.close()
        finally:
            try:
                srv.stop()
            finally:
                srv.cleanup()


class Failures(harness.TestCase):
    def start(self, kind='starttls'):
        c = self.client(kind)
        c.start()
        return c

    def assert_retry_works(self, c):
        """After a failure the same stream may authenticate (RFC 6120 §6.4.5)."""
        self.assertEqual(c.auth_scram('bob', PASSWORD, 'SCRAM-SHA-256')[0], 'success')
        c.open_stream()
        self.assertEqual(c.bind('retry'), 'bob@localhost/retry')

    def test_wrong_password(self):
        for mech in ALL_MECHS:
            with self.subTest(mech=mech):
                c = self.start()
                if mech == 'PLAIN':
                    got = c.auth_plain('alice', 'wrong')
                else:
                    got = c.auth_scram('alice', 'wrong', mech)
                self.assertEqual(got, ('failure', 'not-authorized'))
                self.assert_retry_works(c)

    def test_unknown_user(self):
        for mech in ALL_MECHS:
            with self.subTest(mech=mech):
                c = self.start()
                if mech == 'PLAIN':
                    got = c.auth_plain('nosuchuser', PASSWORD)
                else:
                    got = c.auth_scram('nosuchuser', PASSWORD, mech)
                self.assertEqual(got, ('failure', 'not-authorized'))
                self.assert_retry_works(c)

    def test_unknown_user_challenge_looks_real(self):
        # the same salt each time and the real iteration count: no account enumeration
        salts = []
        for _ in range(2):
            c = self.start()
            sc = ScramClient('SCRAM-SHA-256', 'ghost', 'x')
            c.sasl_send('auth', sc.first(), mechanism='SCRAM-SHA-256')
            el = c.sasl_recv()
            self.assertEqual(el.tag, q(NS_SASL, 'challenge'), to_string(el))
            attrs = ScramClient.parse(c.sasl_data(el).decode())
            self.assertEqual(attrs['i'], '4096')
            salts.append(attrs['s'])
            c.close()
        self.assertEqual(salts[0], salts[1])

    def test_invalid_username_is_not_authorized(self):
        c = self.start()
        self.assertEqual(c.auth_scram('in valid@user', PASSWORD, 'SCRAM-SHA-1'),
                         ('failure', 'not-authorized'))
        self.assert_retry_works(c)

    def test_unknown_mechanism(self):
        c = self.start()
        c.sasl_send('auth', b'x', mechanism='DIGEST-MD5')
        self.assertEqual(c.failure_condition(c.sasl_recv()), 'invalid-mechanism')
        self.assert_retry_works(c)

    def test_missing_mechanism(self):
        c = self.start()
        c.sasl_send('auth', b'x')
        self.assertEqual(c.failure_condition(c.sasl_recv()), 'invalid-mechanism')
        self.assert_retry_works(c)

    def test_abort(self):
        c = self.start()
        sc = ScramClient('SCRAM-SHA-1', 'alice', PASSWORD)
        c.sasl_send('auth', sc.first(), mechanism='SCRAM-SHA-1')
        self.assertEqual(c.sasl_recv().tag, q(NS_SASL, 'challenge'))
        c.sasl_send('abort')
        self.assertEqual(c.failure_condition(c.sasl_recv()), 'aborted')
        self.assert_retry_works(c)

    def test_wrong_password_keeps_connection_then_throttle_is_per_ip(self):
        srv = harness.module_server('throttle', limits={'sasl_failures_per_ip': 3},
                                    accounts={'alice': PASSWORD})
        try:
            c = srv.client()
            self.addCleanup(c.close)
            c.start()
            for _ in range(3):
                self.assertEqual(c.auth_plain('alice', 'bad'), ('failure', 'not-authorized'))
            # now even the right password is refused from this address
            self.assertEqual(c.auth_plain('alice', PASSWORD),
                             ('failure', 'temporary-auth-failure'))
            if harness.have_ipv6():
                c6 = srv.client('v6')
                self.addCleanup(c6.close)
                c6.start()
                self.assertEqual(c6.auth_plain('alice', PASSWORD), ('success', None))
                c6.close()
            c.close()
        finally:
            try:
                srv.stop()
            finally:
                srv.cleanup()


def b64(data):
    return base64.b64encode(data).decode()


class MalformedScram(harness.TestCase):
    """Broken SCRAM messages (RFC 5802) must fail with the right SASL condition and leave the
    stream able to authenticate again."""

    def start(self):
        c = self.client()
        c.start()
        return c

    def first_raw(self, c, payload, mech='SCRAM-SHA-256'):
        if isinstance(payload, str):
            payload = payload.encode()
        c.sasl_send('auth', payload, mechanism=mech)
        return c.sasl_recv()

    def assert_failure(self, c, el, cond):
        self.assertEqual(el.tag, q(NS_SASL, 'failure'), to_string(el))
        self.assertEqual(c.failure_condition(el), cond, to_string(el))
        self.assertEqual(c.auth_scram('bob', PASSWORD, 'SCRAM-SHA-256')[0], 'success')

    def test_client_first_malformed(self):
        cases = [
            'x,,n=alice,r=abcdef',          # bad gs2 flag
            'n,n=alice,r=abcdef',           # gs2 header without the authzid part
            'n,,r=abcdef',                  # no username
            'n,,m=ext,n=alice,r=abcdef',    # reserved mandatory extension (RFC 5802 §5.1)
            'n,,n=alice,r=',                # empty nonce
            'n,,n=alice',                   # no nonce
            'n,,n=al=ZZice,r=abcdef',       # bad saslname escape
            'n,,n=alice,r=abc def',         # nonce with a space
            'n,,n=alice,r=abcdef,x=ext',    # unknown extension after the nonce
            'n,,n=,r=abcdef',               # empty username
            'p=tls-server-end-point,,n=alice,r=abcdef',  # channel binding on a non-PLUS mech
        ]
        for payload in cases:
            with self.subTest(payload=payload):
                c = self.start()
                self.assert_failure(c, self.first_raw(c, payload), 'malformed-request')
                c.close()

    def test_client_first_with_nul(self):
        c = self.start()
        self.assert_failure(c, self.first_raw(c, b'n,,n=al\0ice,r=abcdef'), 'malformed-request')

    def test_auth_not_base64(self):
        c = self.start()
        c.send("<auth xmlns='%s' mechanism='SCRAM-SHA-1'>!!not base64!!</auth>" % NS_SASL)
        self.assert_failure(c, c.sasl_recv(), 'incorrect-encoding')

    def test_empty_initial_response(self):
        # "=" is a zero-length initial response, which no SCRAM client-first can be
        c = self.start()
        c.send("<auth xmlns='%s' mechanism='SCRAM-SHA-1'>=</auth>" % NS_SASL)
        self.assert_failure(c, c.sasl_recv(), 'malformed-request')

    def test_no_initial_response_gets_empty_challenge(self):
        # RFC 6120 §6.4.2 / RFC 6120 §6.4.3: without an initial response the server sends an
        # empty challenge and the client-first comes as the first <response/>
        c = self.start()
        c.send("<auth xmlns='%s' mechanism='SCRAM-SHA-256'/>" % NS_SASL)
        el = c.sasl_recv()
        self.assertEqual(el.tag, q(NS_SASL, 'challenge'), to_string(el))
        self.assertEqual(c.sasl_data(el), b'')
        sc = ScramClient('SCRAM-SHA-256', 'alice', PASSWORD)
        c.sasl_send('response', sc.first())
        el = c.sasl_recv()
        self.assertEqual(el.tag, q(NS_SASL, 'challenge'), to_string(el))
        c.sasl_send('response', sc.final(c.sasl_data(el)))
        el = c.sasl_recv()
        self.assertEqual(el.tag, q(NS_SASL, 'success'), to_string(el))
        self.assertTrue(sc.verify(c.sasl_data(el)))

    def final_with(self, mech='SCRAM-SHA-256', first=None, **kw):
        """Runs the first half, then sends a client-final built with kw (see
        ScramClient.final) or the raw bytes kw['raw']; returns (client, answer)."""
        c = self.start()
        cb_type = kw.pop('cb_type', None)
        cb_data = kw.pop('cb_data', None)
        gs2_flag = kw.pop('gs2_flag', None)
        if cb_type and cb_data is None:
            cb_data = c.cb_data(cb_type)
        sc = ScramClient(mech, 'alice', kw.pop('password', PASSWORD), cb_type=cb_type,
                         cb_data=cb_data or b'', gs2_flag=gs2_flag)
        el = self.first_raw(c, first if first is not None else sc.first(), mech)
        self.assertEqual(el.tag, q(NS_SASL, 'challenge'), to_string(el))
        server_first = c.sasl_data(el)
        raw = kw.pop('raw', None)
        if raw is None:
            raw = sc.final(server_first, **kw)
        elif callable(raw):
            raw = raw(sc, server_first)
        c.sasl_send('response', raw)
        return c, c.sasl_recv()

    def test_final_wrong_nonce(self):
        c, el = self.final_with(nonce='not-the-nonce')
        self.assert_failure(c, el, 'not-authorized')

    def test_final_cbind_not_base64(self):
        c, el = self.final_with(cbind='!!!')
        self.assert_failure(c, el, 'incorrect-encoding')

    def test_final_proof_not_base64(self):
        c, el = self.final_with(proof='!!!')
        self.assert_failure(c, el, 'incorrect-encoding')

    def test_final_proof_wrong_length(self):
        c, el = self.final_with(proof=b64(b'12345'))
        self.assert_failure(c, el, 'malformed-request')

    def test_final_without_proof(self):
        def raw(sc, server_first):
            full = sc.final(server_first)
            return full[:full.rindex(b',p=')]
        c, el = self.final_with(raw=raw)
        self.assert_failure(c, el, 'malformed-request')

    def test_final_garbage(self):
        c, el = self.final_with(raw=b'garbage')
        self.assert_failure(c, el, 'malformed-request')

    def test_final_empty(self):
        c = self.start()
        sc = ScramClient('SCRAM-SHA-256', 'alice', PASSWORD)
        self.assertEqual(self.first_raw(c, sc.first()).tag, q(NS_SASL, 'challenge'))
        c.send("<response xmlns='%s'>=</response>" % NS_SASL)
        self.assert_failure(c, c.sasl_recv(), 'malformed-request')

    def test_final_response_not_base64(self):
        c = self.start()
        sc = ScramClient('SCRAM-SHA-256', 'alice', PASSWORD)
        self.assertEqual(self.first_raw(c, sc.first()).tag, q(NS_SASL, 'challenge'))
        c.send("<response xmlns='%s'>%%%%%%</response>" % NS_SASL)
        self.assert_failure(c, c.sasl_recv(), 'incorrect-encoding')

    def test_final_cbind_mismatch(self):
        # c= must repeat the gs2 header of the client-first
        c, el = self.final_with(cbind=b64(b'y,,'))
        self.assert_failure(c, el, 'not-authorized')

    def test_response_without_exchange(self):
        c = self.start()
        c.sasl_send('response', b'c=biws,r=abc,p=' + b64(b'x' * 32).encode())
        self.assert_failure(c, c.sasl_recv(), 'malformed-request')

    def test_second_auth_during_exchange(self):
        c = self.start()
        sc = ScramClient('SCRAM-SHA-256', 'alice', PASSWORD)
        self.assertEqual(self.first_raw(c, sc.first()).tag, q(NS_SASL, 'challenge'))
        el = self.first_raw(c, sc.first())
        self.assertEqual(el.tag, q(NS_SASL, 'failure'), to_string(el))

    def test_downgrade_detected(self):
        # gs2 flag "y": the client could bind but believes the server cannot, while the server
        # offered -PLUS: someone stripped the mechanisms (RFC 5802 §6)
        c = self.start()
        sc = ScramClient('SCRAM-SHA-256', 'alice', PASSWORD, gs2_flag='y')
        self.assert_failure(c, self.first_raw(c, sc.first()), 'not-authorized')

    def test_plus_without_binding_flag(self):
        c = self.start()
        sc = ScramClient('SCRAM-SHA-256', 'alice', PASSWORD)
        self.assert_failure(c, self.first_raw(c, sc.first(), 'SCRAM-SHA-256-PLUS'),
                            'malformed-request')

    def test_plus_tls_unique_refused(self):
        c = self.start()
        sc = ScramClient('SCRAM-SHA-256-PLUS', 'alice', PASSWORD, cb_type='tls-unique',
                         cb_data=b'x' * 12)
        self.assert_failure(c, self.first_raw(c, sc.first(), 'SCRAM-SHA-256-PLUS'),
                            'not-authorized')

    def test_plus_wrong_binding_data(self):
        for mech in PLUS_MECHS:
            with self.subTest(mech=mech):
                c, el = self.final_with(mech, cb_type='tls-server-end-point',
                                        cb_data=os.urandom(32))
                self.assert_failure(c, el, 'not-authorized')
                c.close()

    def test_plus_binding_of_another_connection(self):
        # the end-point hash is the same on every connection with this certificate, so this
        # succeeds; what differs per connection is tls-exporter, tested by the C client
        other = self.client()
        other.start()
        data = other.cb_data('tls-server-end-point')
        c, el = self.final_with('SCRAM-SHA-1-PLUS', cb_type='tls-server-end-point', cb_data=data)
        self.assertEqual(el.tag, q(NS_SASL, 'success'), to_string(el))

    def test_plus_wrong_password(self):
        c, el = self.final_with('SCRAM-SHA-512-PLUS', cb_type='tls-server-end-point',
                                password='nope')
        self.assert_failure(c, el, 'not-authorized')

    def test_plain_malformed(self):
        for payload in [b'alice', b'\0alice', b'\0\0secret', b'\0alice\0', b'a\0b\0c\0d']:
            with self.subTest(payload=payload):
                c = self.start()
                c.sasl_send('auth', payload, mechanism='PLAIN')
                el = c.sasl_recv()
                self.assertEqual(el.tag, q(NS_SASL, 'failure'), to_string(el))
                self.assertIn(c.failure_condition(el), ('malformed-request', 'not-authorized'),
                              to_string(el))
                self.assertEqual(c.auth_plain('bob', PASSWORD)[0], 'success')
                c.close()


class NoTlsRequired(harness.TestCase):
    """A server with tls.require_c2s false: SASL on a plain stream, but never PLAIN or -PLUS."""

    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = harness.module_server('notls', require_tls=False,
                                           accounts={'alice': PASSWORD})

    @classmethod
    def tearDownClass(cls):
        harness.module_teardown(cls.server)

    def test_features_plain_stream(self):
        c = self.client(srv=self.server)
        f = c.open_stream()
        st = f.find(q(NS_TLS, 'starttls'))
        self.assertIsNotNone(st, to_string(f))
        self.assertEqual(len(st), 0, 'STARTTLS must not be <required/> here: ' + to_string(f))
        self.assertEqual(sorted(c.mechanisms()), sorted(SCRAM_MECHS), to_string(f))
        self.assertIsNone(f.find(q(NS_SASL_CB, 'sasl-channel-binding')), to_string(f))

    def test_plain_refused_without_tls(self):
        c = self.client(srv=self.server)
        c.open_stream()
        self.assertEqual(c.auth_plain('alice', PASSWORD), ('failure', 'invalid-mechanism'))

    def test_plus_refused_without_tls(self):
        c = self.client(srv=self.server)
        c.open_stream()
        sc = ScramClient('SCRAM-SHA-1-PLUS', 'alice', PASSWORD, cb_type='tls-server-end-point',
                         cb_data=b'x' * 32)
        c.sasl_send('auth', sc.first(), mechanism='SCRAM-SHA-1-PLUS')
        self.assertEqual(c.failure_condition(c.sasl_recv()), 'invalid-mechanism')

    def test_scram_without_tls(self):
        c = self.client(srv=self.server)
        c.open_stream()
        self.assertEqual(c.auth_scram('alice', PASSWORD, 'SCRAM-SHA-1')[0], 'success')
        c.open_stream()
        self.assertEqual(c.bind('plain'), 'alice@localhost/plain')
        out = self.server.ctl_ok('user_sessions_info', 'alice', 'localhost')
        self.assertEqual(out.split('\t')[0], 'c2s')

    def test_plain_after_starttls(self):
        c = self.client(srv=self.server)
        c.open_stream()
        c.starttls()
        self.assertIn('PLAIN', c.mechanisms())
        self.assertEqual(c.auth_plain('alice', PASSWORD), ('success', None))


LOADGEN = os.environ.get('LOADGEN') or os.path.join(harness.BUILDDIR, 'bench', 'loadgen')


class PlusWithCClient(harness.TestCase):
    """SCRAM-SHA-256-PLUS with tls-exporter needs the exporter of the client's TLS connection,
    which Python's ssl module cannot give: bench/loadgen (C, OpenSSL) logs in instead."""

    def run_loadgen(self, cb, direct, password=PASSWORD, user='cbuser%d'):
        port = self.srv.port_tls if direct else self.srv.port_c2s
        args = [LOADGEN, '--host', '127.0.0.1', '--port', str(port), '--domain', 'localhost',
                '--users', '1', '--user-format', user, '--password', password, '--plus', cb,
                '--hold', '0', '--timeout', '10']
        if direct:
            args.append('--direct-tls')
        out = subprocess.run(args, capture_output=True, text=True, timeout=60)
        fields = dict(kv.split('=', 1) for line in out.stdout.splitlines()
                      for kv in line.split() if '=' in kv)
        return fields, out

    def setUp(self):
        super().setUp()
        if not os.access(LOADGEN, os.X_OK):
            self.fail('bench/loadgen not built at %s (make builds it)' % LOADGEN)
        if 'cbuser1' not in self.srv.accounts:
            self.srv.register('cbuser1')

    def test_plus_logins(self):
        for cb in ('tls-exporter', 'tls-server-end-point'):
            for direct in (False, True):
                with self.subTest(cb=cb, direct=direct):
                    since = self.srv.log_size()
                    fields, out = self.run_loadgen(cb, direct)
                    self.assertEqual(fields.get('logins_ok'), '1', out.stdout + out.stderr)
                    self.srv.wait_log(r'authenticated as cbuser1@localhost \(SCRAM-SHA-256-PLUS\)',
                                      since=since)

    def test_plus_wrong_password(self):
        fields, out = self.run_loadgen('tls-exporter', False, password='not-the-password')
        self.assertEqual(fields.get('logins_ok'), '0', out.stdout)
        self.assertEqual(fields.get('fail_auth'), '1', out.stdout)
