# SPDX-License-Identifier: ISC
# starlingd as a process: --check-config, start failures, stop by starlingctl, SIGTERM and
# SIGINT with clients connected, data kept across a restart.

import os
import signal
import socket
import subprocess
import time

import harness
from harness import PASSWORD, STARLINGD

SRV = None  # every test here runs its own server


class Lifecycle(harness.TestCase):
    def new_server(self, name, **kw):
        srv = harness.Server(name, **kw)
        self.addCleanup(srv.cleanup)
        return srv

    def test_version_and_help(self):
        r = subprocess.run([STARLINGD, '--version'], capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stdout), (0, 'starlingd %s\n' % harness.version()))
        r = subprocess.run([STARLINGD, '--help'], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith('Usage: starlingd'), r.stdout)
        r = subprocess.run([STARLINGD, '--no-such-option'], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)

    def test_check_config_ok(self):
        srv = self.new_server('check')
        srv.write_config()
        r = subprocess.run([STARLINGD, '--check-config', '-c', srv.config_path],
                           capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (0, '%s: configuration OK\n' % srv.config_path, ''))
        # nothing was started or created
        self.assertFalse(os.path.exists(srv.ctl_socket))

    def test_check_config_errors(self):
        srv = self.new_server('checkbad')
        cases = {
            'syntax': 'hosts: [\n',
            'no host': harness.to_yaml({'listeners': [{'port': 5222}], 'hosts': []}),
            'bad limit': None,
            'unknown key': None,
            'missing cert': None,
        }
        for what, text in cases.items():
            with self.subTest(what=what):
                if what == 'bad limit':
                    cfg = srv.config(limits={'max_stanza_size': '1'})
                    text = harness.to_yaml(cfg)
                elif what == 'unknown key':
                    cfg = srv.config()
                    cfg['no_such_key'] = 1
                    text = harness.to_yaml(cfg)
                elif what == 'missing cert':
                    cfg = srv.config()
                    cfg['hosts'][0]['certificate'] = os.path.join(srv.tmp, 'missing.crt')
                    text = harness.to_yaml(cfg)
                srv.write_config(text=text)
                r = subprocess.run([STARLINGD, '--check-config', '-c', srv.config_path],
                                   capture_output=True, text=True)
                self.assertEqual((r.returncode, r.stdout), (1, ''), r.stderr)
                self.assertTrue(r.stderr.startswith('starlingd: %s:' % srv.config_path),
                                r.stderr)

    def test_start_fails_on_busy_port(self):
        srv = self.new_server('busy')
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.1', srv.port_tls))
        s.listen()
        self.addCleanup(s.close)
        srv.write_config()
        r = subprocess.run([STARLINGD, '-c', srv.config_path], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(str(srv.port_tls), r.stdout + r.stderr)
        self.assertIsNone(harness.SANITIZER_PATTERNS.search(r.stdout + r.stderr))

    def test_stop_command(self):
        srv = self.new_server('stopctl', accounts={'alice': PASSWORD}).start()
        c = srv.login('alice', resource='r')
        self.addCleanup(c.close)
        r = srv.ctl('stop')
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, '', ''))
        self.assertStreamError(c, 'system-shutdown')
        self.assertEqual(srv.wait_exit(), 0, srv.log_text()[-3000:])
        srv.stop()  # checks the log
        r = srv.ctl('status')
        self.assertEqual(r.returncode, 3, r.stderr)

    def test_sigterm_with_clients(self):
        srv = self.new_server('sigterm', accounts={'alice': PASSWORD, 'bob': PASSWORD}).start()
        clients = [srv.login(u, resource='r%d' % i) for i, u in enumerate(['alice', 'bob'] * 3)]
        for c in clients:
            self.addCleanup(c.close)
        pre = srv.client()  # half-way through negotiation
        self.addCleanup(pre.close)
        pre.open_stream()
        srv.proc.send_signal(signal.SIGTERM)
        for c in clients + [pre]:
            self.assertStreamError(c, 'system-shutdown')
        srv.stop()

    def test_sigint(self):
        srv = self.new_server('sigint').start()
        srv.stop(sig=signal.SIGINT)

    def test_stop_while_client_does_not_read(self):
        # a client that never reads must not keep the server from exiting
        srv = self.new_server('stopslow', accounts={'alice': PASSWORD}).start()
        c = srv.login('alice', resource='slow')
        self.addCleanup(c.close)
        for _ in range(50):
            c.send("<iq type='get' id='v' to='localhost'><query xmlns='jabber:iq:version'/></iq>")
        srv.stop(timeout=20)

    def test_data_survives_restart(self):
        srv = self.new_server('restart', accounts={'alice': PASSWORD}).start()
        srv.register('persist', 'persist-pw')
        srv.ctl_ok('change_password', 'alice', 'localhost', 'changed-pw')
        srv.stop()
        srv.start()
        self.assertEqual(srv.ctl_ok('registered_users', 'localhost'), 'alice\npersist\n')
        srv.ctl_ok('check_password', 'alice', 'localhost', 'changed-pw')
        c = srv.login('persist', resource='r', password='persist-pw')
        c.close()
        srv.stop()


class Keepalive(harness.TestCase):
    """XEP-0199 keepalive pings from the server: answered, the stream stays; unanswered, it
    ends with connection-timeout."""

    def test_keepalive(self):
        from rawxmpp import NS_CLIENT, q, Timeout
        srv = harness.Server('keepalive', accounts={'alice': PASSWORD, 'bob': PASSWORD},
                             limits={'idle_timeout': '10s'})
        srv.modules = dict(srv.modules, ping={'keepalive_interval': '2s', 'ping_timeout': '2s'})
        self.addCleanup(srv.cleanup)
        srv.start()
        good = srv.login('alice', resource='answers')
        bad = srv.login('bob', resource='silent')
        self.addCleanup(good.close)
        self.addCleanup(bad.close)
        pings = []
        deadline = time.monotonic() + 9
        while time.monotonic() < deadline:
            try:
                el = good.recv(timeout=0.5)
            except Timeout:
                continue
            if el.tag == q(NS_CLIENT, 'iq') and el.get('type') == 'get' and \
                    el.find('{urn:xmpp:ping}ping') is not None:
                pings.append(el)
                good.send("<iq type='result' id='%s' to='%s'/>"
                          % (el.get('id'), el.get('from')))
        self.assertGreaterEqual(len(pings), 1, 'no keepalive ping in 9 s')
        for p in pings:
            self.assertEqual((p.get('from'), p.get('to')), ('localhost', good.jid))
            self.assertTrue(p.get('id'))
        # the silent one was pinged too, did not answer, and is gone
        cond, text = bad.stream_error(timeout=1)
        self.assertEqual(cond, 'connection-timeout')
        self.assertIn('alice@localhost/answers', srv.connected())
        self.assertNotIn('bob@localhost/silent', srv.connected())
        srv.stop()


class Throttles(harness.TestCase):
    def test_max_connections(self):
        srv = harness.Server('maxconn', limits={'max_connections': 3})
        self.addCleanup(srv.cleanup)
        srv.start()
        clients = []
        for _ in range(3):
            c = srv.client()
            self.addCleanup(c.close)
            c.open_stream()
            clients.append(c)
        extra = srv.client()
        self.addCleanup(extra.close)
        # the fourth is closed at once, before any byte
        self.assertTrue(extra.read_to_eof(5))
        self.assertEqual(extra.received, '')
        clients[0].send('</stream:stream>')
        self.assertTrue(clients[0].read_to_eof(5))
        clients[0].close()
        deadline = time.monotonic() + 5
        while True:
            c = srv.client()
            self.addCleanup(c.close)
            try:
                c.open_stream()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
        srv.stop()

    def test_failures_per_account(self):
        srv = harness.Server('peraccount', limits={'sasl_failures_per_account': 2},
                             accounts={'alice': PASSWORD, 'bob': PASSWORD})
        self.addCleanup(srv.cleanup)
        srv.start()
        c = srv.client()
        self.addCleanup(c.close)
        c.start()
        for _ in range(2):
            self.assertEqual(c.auth_plain('alice', 'wrong'), ('failure', 'not-authorized'))
        self.assertEqual(c.auth_plain('alice', PASSWORD), ('failure', 'temporary-auth-failure'))
        self.assertEqual(c.auth_scram('alice', PASSWORD, 'SCRAM-SHA-1'),
                         ('failure', 'temporary-auth-failure'))
        # another account from the same address is not affected
        self.assertEqual(c.auth_plain('bob', PASSWORD), ('success', None))
        if harness.have_ipv6():
            c6 = srv.client('v6')
            self.addCleanup(c6.close)
            c6.start()
            self.assertEqual(c6.auth_plain('alice', PASSWORD),
                             ('failure', 'temporary-auth-failure'))
        srv.stop()
