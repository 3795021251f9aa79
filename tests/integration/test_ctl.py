# SPDX-License-Identifier: ISC
# starlingctl against a running server: every command, its exact output and exit status,
# the error paths, and the rows the account commands leave in the database.

import base64
import hashlib
import hmac
import os
import socket
import struct
import subprocess
import time

import harness
from harness import PASSWORD, unique

SRV = None
OTHER_HOST = 'example.test'
NODE = 'starling@%s' % socket.gethostname()

HASHES = {'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-512': 'sha512'}


def setUpModule():
    global SRV
    srv = harness.Server('ctl', accounts={'alice': PASSWORD, 'bob': PASSWORD})
    crt, key = srv.make_cert(OTHER_HOST)
    srv.extra_hosts = [{'name': OTHER_HOST, 'certificate': crt, 'key': key,
                        'modules': {'disco': {}}}]
    try:
        SRV = srv.start()
    except BaseException:
        srv.cleanup()
        raise
    SRV.register('olga', PASSWORD, host=OTHER_HOST)


def tearDownModule():
    harness.module_teardown(SRV)


class Base(harness.TestCase):
    def run_ctl(self, *args, code=0, out='', err='', **kw):
        r = SRV.ctl(*args, **kw)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (code, out, err),
                         'starlingctl %s' % ' '.join(map(str, args)))
        return r


class Accounts(Base):
    def test_register_and_rows(self):
        user = unique('reg')
        self.run_ctl('register', user, 'localhost', 'pw-' + user,
                     out='User %s@localhost successfully registered\n' % user)
        rows = SRV.db_rows("SELECT host, username FROM users WHERE username = '%s'" % user)
        self.assertEqual(rows, [('localhost', user)])
        created = SRV.db_rows("SELECT created_at FROM users WHERE username = '%s'" % user)
        self.assertLess(abs(int(created[0][0]) - time.time()), 30)
        keys = SRV.db_rows("SELECT hash, iterations, salt, stored_key, server_key FROM scram_keys"
                           " WHERE host = 'localhost' AND username = '%s' ORDER BY hash" % user)
        self.assertEqual([k[0] for k in keys], ['SHA-1', 'SHA-256', 'SHA-512'])
        password = ('pw-' + user).encode()
        for name, iterations, salt, stored, server in keys:
            h = HASHES[name]
            self.assertEqual(iterations, '4096')
            salt_bytes = base64.b64decode(salt)
            self.assertGreaterEqual(len(salt_bytes), 16)
            salted = hashlib.pbkdf2_hmac(h, password, salt_bytes, 4096)
            client_key = hmac.new(salted, b'Client Key', h).digest()
            self.assertEqual(base64.b64decode(stored), hashlib.new(h, client_key).digest(), name)
            self.assertEqual(base64.b64decode(server),
                             hmac.new(salted, b'Server Key', h).digest(), name)
        # the three hashes do not share a salt
        self.assertEqual(len({k[2] for k in keys}), 3)
        # and the new account logs in
        c = self.login(user, password='pw-' + user)
        self.assertEqual(c.jid.split('/')[0], user + '@localhost')

    def test_register_existing(self):
        self.run_ctl('register', 'alice', 'localhost', 'other', code=1,
                     err='User alice@localhost already registered\n')
        # the password did not change
        self.run_ctl('check_password', 'alice', 'localhost', PASSWORD)

    def test_register_concurrently(self):
        # the same account asked for five times at once: exactly one wins
        user = unique('race')
        procs = [subprocess.Popen([harness.STARLINGCTL, '-s', SRV.ctl_socket, 'register', user,
                                   'localhost', 'pw%d' % i], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for i in range(5)]
        results = sorted((p.wait(30), p.stdout.read(), p.stderr.read()) for p in procs)
        for p in procs:
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(results[0], (0, 'User %s@localhost successfully registered\n' % user, ''))
        for r in results[1:]:
            self.assertEqual(r, (1, '', 'User %s@localhost already registered\n' % user))
        self.assertEqual(len(SRV.db_rows("SELECT hash FROM scram_keys WHERE username = '%s'"
                                         % user)), 3)

    def test_register_prepares_name(self):
        user = unique('Case')
        self.run_ctl('register', user.upper(), 'LocalHost', PASSWORD,
                     out='User %s@localhost successfully registered\n' % user.lower())
        self.run_ctl('check_account', user.lower(), 'localhost')

    def test_register_unknown_host(self):
        self.run_ctl('register', 'x', 'nohost.example', PASSWORD, code=1,
                     err="unknown host 'nohost.example'\n")

    def test_register_invalid_user(self):
        self.run_ctl('register', 'in valid', 'localhost', PASSWORD, code=1,
                     err="invalid user name 'in valid'\n")
        self.run_ctl('register', 'a@b', 'localhost', PASSWORD, code=1,
                     err="invalid user name 'a@b'\n")

    def test_register_invalid_password(self):
        self.run_ctl('register', unique('p'), 'localhost', '', code=1,
                     err='invalid password: empty, or a character not allowed\n')

    def test_register_password_from_stdin(self):
        user = unique('stdin')
        self.run_ctl('register', user, 'localhost', '-', stdin='from stdin\n',
                     out='User %s@localhost successfully registered\n' % user)
        self.run_ctl('check_password', user, 'localhost', 'from stdin')
        self.run_ctl('check_password', user, 'localhost', '-', stdin='from stdin\n')
        self.run_ctl('check_password', user, 'localhost', '-', stdin='wrong\n', code=1)

    def test_register_other_host(self):
        self.run_ctl('check_account', 'olga', OTHER_HOST)
        self.run_ctl('check_account', 'olga', 'localhost', code=1)

    def test_wrong_argument_count(self):
        cases = {
            ('register', 'a', 'localhost'): 'register USER HOST PASSWORD',
            ('register', 'a', 'localhost', 'p', 'extra'): 'register USER HOST PASSWORD',
            ('unregister', 'a'): 'unregister USER HOST',
            ('change_password', 'a', 'localhost'): 'change_password USER HOST NEWPASS',
            ('check_account',): 'check_account USER HOST',
            ('check_password', 'a', 'localhost'): 'check_password USER HOST PASSWORD',
            ('registered_users',): 'registered_users HOST',
            ('connected_users', 'x'): 'connected_users',
            ('connected_users_number', 'x'): 'connected_users_number',
            ('user_sessions_info', 'a'): 'user_sessions_info USER HOST',
            ('kick_session', 'a', 'localhost', 'r'): 'kick_session USER HOST RESOURCE REASON',
            ('status', 'x'): 'status',
            ('stop', 'now'): 'stop',
            ('reload_config', 'x'): 'reload_config',
            ('stats',): 'stats NAME',
        }
        for args, usage in cases.items():
            with self.subTest(args=args):
                self.run_ctl(*args, code=2, err='Usage: starlingctl %s\n' % usage)

    def test_check_account(self):
        self.run_ctl('check_account', 'alice', 'localhost')
        self.run_ctl('check_account', 'nobody', 'localhost', code=1)
        self.run_ctl('check_account', 'alice', 'nohost.example', code=1,
                     err="unknown host 'nohost.example'\n")

    def test_check_password(self):
        self.run_ctl('check_password', 'alice', 'localhost', PASSWORD)
        self.run_ctl('check_password', 'alice', 'localhost', 'wrong', code=1)
        self.run_ctl('check_password', 'nobody', 'localhost', PASSWORD, code=1)

    def test_change_password(self):
        user = unique('chg')
        SRV.register(user, 'old-pass')
        before = SRV.db_rows("SELECT hash, salt FROM scram_keys WHERE username = '%s' "
                             "ORDER BY hash" % user)
        old = self.login(user, password='old-pass')
        self.run_ctl('change_password', user, 'localhost', 'new-pass')
        self.run_ctl('check_password', user, 'localhost', 'new-pass')
        self.run_ctl('check_password', user, 'localhost', 'old-pass', code=1)
        after = SRV.db_rows("SELECT hash, salt FROM scram_keys WHERE username = '%s' "
                            "ORDER BY hash" % user)
        self.assertEqual([r[0] for r in after], ['SHA-1', 'SHA-256', 'SHA-512'])
        self.assertNotEqual(before, after, 'the salts did not change')
        # logged-in sessions stay; new logins need the new password
        self.assertResult(old.iq('get', "<ping xmlns='urn:xmpp:ping'/>", to='localhost'))
        c = self.client()
        c.start()
        self.assertEqual(c.auth_scram(user, 'old-pass', 'SCRAM-SHA-1'),
                         ('failure', 'not-authorized'))
        self.assertEqual(c.auth_plain(user, 'new-pass'), ('success', None))

    def test_change_password_unknown(self):
        self.run_ctl('change_password', 'nobody', 'localhost', 'x', code=1,
                     err='User nobody@localhost does not exist\n')
        self.run_ctl('change_password', 'nobody', 'nohost.example', 'x', code=1,
                     err="unknown host 'nohost.example'\n")

    def test_unregister(self):
        user = unique('unreg')
        SRV.register(user)
        c = SRV.login(user, resource='r')
        self.addCleanup(c.close)
        self.run_ctl('unregister', user, 'localhost')
        # its session ends
        cond, _ = c.stream_error()
        self.assertIn(cond, ('policy-violation', 'not-authorized'))
        self.assertTrue(c.read_to_eof(5))
        self.run_ctl('check_account', user, 'localhost', code=1)
        self.assertEqual(SRV.db_rows("SELECT username FROM users WHERE username = '%s'" % user),
                         [])
        self.assertEqual(SRV.db_rows("SELECT username FROM scram_keys WHERE username = '%s'"
                                     % user), [])
        self.assertNotIn(user, SRV.ctl_ok('registered_users', 'localhost').splitlines())
        c2 = self.client()
        c2.start()
        self.assertEqual(c2.auth_plain(user, PASSWORD), ('failure', 'not-authorized'))

    def test_unregister_unknown(self):
        self.run_ctl('unregister', 'nobody', 'localhost', code=1,
                     err='User nobody@localhost does not exist\n')
        self.run_ctl('unregister', 'nobody', 'nohost.example', code=1,
                     err="unknown host 'nohost.example'\n")

    def test_registered_users(self):
        r = SRV.ctl('registered_users', 'localhost')
        self.assertEqual(r.returncode, 0)
        names = r.stdout.splitlines()
        self.assertEqual(names, sorted(names))
        self.assertTrue({'alice', 'bob'} <= set(names), names)
        self.assertNotIn('olga', names)
        self.assertEqual(names, sorted(row[0] for row in SRV.db_rows(
            "SELECT username FROM users WHERE host = 'localhost'")))
        self.run_ctl('registered_users', OTHER_HOST, out='olga\n')
        self.run_ctl('registered_users', 'nohost.example', code=1,
                     err="unknown host 'nohost.example'\n")

    def test_stats_registeredusers(self):
        total = len(SRV.db_rows('SELECT username FROM users'))
        self.run_ctl('stats', 'registeredusers', out='%d\n' % total)


class Sessions(Base):
    def test_connected_users(self):
        self.run_ctl('connected_users', out='')
        self.run_ctl('connected_users_number', out='0\n')
        a = self.login('alice', resource='zz')
        b = self.login('bob', resource='aa')
        a2 = self.login('alice', resource='aa')
        self.run_ctl('connected_users',
                     out='alice@localhost/aa\nalice@localhost/zz\nbob@localhost/aa\n')
        self.run_ctl('connected_users_number', out='3\n')
        self.run_ctl('stats', 'onlineusers', out='3\n')
        self.run_ctl('stats', 'onlineusersnode', out='3\n')
        for c in (a, b, a2):
            c.close()
        for jid in ('alice@localhost/aa', 'alice@localhost/zz', 'bob@localhost/aa'):
            SRV.wait_disconnected(jid)
        self.run_ctl('connected_users_number', out='0\n')

    def test_user_sessions_info(self):
        c1 = self.login('alice', resource='second', priority=7)
        c1.presence(priority=7, show='dnd', status='busy\twith tabs')
        c1.sync()  # the presence is handled
        c2 = self.login('alice', resource='first', kind='direct', presence=False)
        r = SRV.ctl('user_sessions_info', 'alice', 'localhost')
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2, r.stdout)
        first = lines[0].split('\t')
        second = lines[1].split('\t')
        self.assertEqual(first[:5] + first[6:],
                         ['c2s_tls', '127.0.0.1', str(c2.local_port), '0', NODE,
                          'unavailable', 'first', ''])
        self.assertEqual(second[:5] + second[6:],
                         ['c2s_starttls', '127.0.0.1', str(c1.local_port), '7', NODE,
                          'dnd', 'second', 'busy with tabs'])
        for f in (first, second):
            self.assertTrue(0 <= int(f[5]) < 60, f)
        self.run_ctl('user_sessions_info', 'nobody', 'localhost', out='')
        self.run_ctl('user_sessions_info', 'alice', 'nohost.example', code=1,
                     err="unknown host 'nohost.example'\n")

    def test_kick_session(self):
        c = self.login('bob', resource='kickme')
        other = self.login('bob', resource='stay')
        self.run_ctl('kick_session', 'bob', 'localhost', 'kickme', 'go away now')
        self.assertStreamError(c, 'policy-violation', text='go away now')
        SRV.wait_disconnected('bob@localhost/kickme')
        self.assertIn('bob@localhost/stay', SRV.connected())
        self.assertResult(other.iq('get', "<ping xmlns='urn:xmpp:ping'/>", to='localhost'))

    def test_kick_reason_is_escaped(self):
        c = self.login('bob', resource='kick2')
        reason = "<b>bad</b> & 'worse' \"quoted\" ünï"
        self.run_ctl('kick_session', 'bob', 'localhost', 'kick2', reason)
        self.assertStreamError(c, 'policy-violation', text=reason)

    def test_kick_unknown_session(self):
        self.run_ctl('kick_session', 'bob', 'localhost', 'nothere', 'x', code=1,
                     err='Session bob@localhost/nothere not found\n')
        self.run_ctl('kick_session', 'bob', 'nohost.example', 'r', 'x', code=1,
                     err="unknown host 'nohost.example'\n")


class Server(Base):
    def test_status(self):
        self.run_ctl('status', out='The node %s is started with status: started\n'
                     'starling %s is running in that node\n' % (NODE, harness.version()))

    def test_stats(self):
        r = SRV.ctl('stats', 'uptimeseconds')
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r'^\d+\n$')
        self.assertLessEqual(int(r.stdout), time.time() - SRV.started_at + 2)
        r = SRV.ctl('stats', 'processes')
        self.assertEqual(r.returncode, 0)
        with open('/proc/%d/status' % SRV.pid()) as f:
            threads = [line.split()[1] for line in f if line.startswith('Threads:')][0]
        self.assertEqual(r.stdout, threads + '\n')

    def test_stats_unknown(self):
        self.run_ctl('stats', 'bogus', code=2,
                     err="unknown statistic 'bogus'; one of registeredusers, onlineusers, "
                         "onlineusersnode, uptimeseconds, processes\n")

    def test_unknown_command(self):
        self.run_ctl('frobnicate', code=2,
                     err="unknown command 'frobnicate'; see starlingctl help\n")
        self.run_ctl('help', 'frobnicate', code=2,
                     err="unknown command 'frobnicate'; see starlingctl help\n")

    def test_help(self):
        r = SRV.ctl('help', sock=False)
        self.assertEqual(r.returncode, 0)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], 'Usage: starlingctl [-s SOCKET | -c CONFIG] COMMAND '
                         '[ARGUMENTS...]')
        listed = [ln.split()[0] for ln in lines if ln.startswith('  ')]
        self.assertEqual(listed, ['add_rosteritem', 'change_password', 'check_account',
                                  'check_password', 'connected_users', 'connected_users_number',
                                  'delete_old_messages', 'delete_rosteritem', 'get_roster',
                                  'get_vcard', 'kick_session', 'register', 'registered_users',
                                  'reload_config', 'send_message', 'send_stanza', 'set_vcard',
                                  'stats', 'status', 'stop', 'unregister', 'user_sessions_info',
                                  'help'])
        self.run_ctl('help', 'check_account', sock=False,
                     out='Usage: starlingctl check_account USER HOST\n\n'
                         'Check whether an account exists.\n\n'
                         'Prints nothing. Exits 0 when USER@HOST exists and 1 when it does not.\n')
        r2 = SRV.ctl('register', '--help', sock=False)
        self.assertEqual(r2.returncode, 0)
        self.assertTrue(r2.stdout.startswith('Usage: starlingctl register USER HOST PASSWORD\n'))
        self.assertTrue(r2.stdout.endswith('\nNeeds root or the user starlingd runs as.\n'),
                        r2.stdout)

    def test_cannot_connect(self):
        path = os.path.join(SRV.tmp, 'nothing.sock')
        r = SRV.ctl('-s', path, 'status', sock=False)
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (3, '', 'cannot connect to %s: No such file or directory '
                          '(is starlingd running?)\n' % path))

    def test_socket_from_environment(self):
        r = SRV.ctl('connected_users_number', sock=False,
                    env={'STARLING_CTL_SOCKET': SRV.ctl_socket})
        self.assertEqual((r.returncode, r.stdout), (0, '0\n'), r.stderr)

    def test_socket_from_config(self):
        r = SRV.ctl('-c', SRV.config_path, 'check_account', 'alice', 'localhost', sock=False)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, '', ''))

    def test_socket_and_config_exclusive(self):
        self.run_ctl('-c', SRV.config_path, 'status', code=2,
                     err='starlingctl: -s and -c exclude each other\n')


class Reload(harness.TestCase):
    """reload_config and SIGHUP on a server of its own (they change its configuration)."""

    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = harness.module_server('reload', accounts={'alice': PASSWORD})

    @classmethod
    def tearDownClass(cls):
        harness.module_teardown(cls.server)

    def setUp(self):
        super().setUp()
        self.base_modules = dict(self.server.modules)

    def tearDown(self):
        # back to the original configuration
        self.server.write_config(self.server.config(modules=self.base_modules))
        self.server.ctl_ok('reload_config')

    def hello(self, c, to='localhost'):
        r = c.iq('get', "<query xmlns='urn:starling:test:hello'/>", to=to)
        self.assertResult(r)
        return r.find('{urn:starling:test:hello}query').text

    def config_with(self, greeting):
        mods = dict(self.base_modules)
        mods['hello'] = {'greeting': greeting}
        return self.server.config(modules=mods)

    def test_reload_valid(self):
        old = self.login('alice', srv=self.server)
        self.assertEqual(self.hello(old), 'hi')
        self.server.write_config(self.config_with('bonjour'))
        r = self.server.ctl('reload_config')
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, 'Configuration reloaded\n', ''))
        new = self.login('alice', srv=self.server)
        self.assertEqual(self.hello(new), 'bonjour')
        # a session opened before the reload sees the new configuration as well
        self.assertEqual(self.hello(old), 'bonjour')

    def test_reload_removes_module(self):
        c = self.login('alice', srv=self.server)
        mods = dict(self.base_modules)
        del mods['hello']
        self.server.write_config(self.server.config(modules=mods))
        self.server.ctl_ok('reload_config')
        r = c.iq('get', "<query xmlns='urn:starling:test:hello'/>", to='localhost')
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable')
        info = c.iq('get', "<query xmlns='http://jabber.org/protocol/disco#info'/>",
                    to='localhost')
        feats = [f.get('var') for f in
                 info.iter('{http://jabber.org/protocol/disco#info}feature')]
        self.assertIn('urn:xmpp:ping', feats)
        self.assertNotIn('urn:starling:test:hello', feats)

    def test_reload_changes_limits(self):
        srv = self.server
        before = self.login('alice', srv=srv)
        before.presence(priority=1)
        big = 'x' * 20000
        before.send("<message><body>%s</body></message>" % big)
        self.assertEqual(before.recv_message().find('{jabber:client}body').text, big)
        cfg = srv.config(limits={'max_stanza_size': '16k'})
        srv.write_config(cfg)
        srv.ctl_ok('reload_config')
        after = self.login('alice', srv=srv)
        after.send("<message><body>%s</body></message>" % big)
        self.assertStreamError(after, 'policy-violation')

    def test_reload_changes_certificate(self):
        import ssl
        srv = self.server
        new_crt, new_key = srv.make_cert('localhost-new')
        os.rename(new_crt, srv.tmp + '/reloaded.crt')
        os.rename(new_key, srv.tmp + '/reloaded.key')
        cfg = srv.config()
        cfg['hosts'][0]['certificate'] = srv.tmp + '/reloaded.crt'
        cfg['hosts'][0]['key'] = srv.tmp + '/reloaded.key'
        old_conn = srv.client('direct', cafile=None)
        self.addCleanup(old_conn.close)
        srv.write_config(cfg)
        srv.ctl_ok('reload_config')
        c = srv.client('direct', cafile=None)
        self.addCleanup(c.close)
        with open(srv.tmp + '/reloaded.crt') as f:
            self.assertEqual(c.peer_certificate(), ssl.PEM_cert_to_DER_cert(f.read()))
        with open(srv.cert) as f:
            self.assertEqual(old_conn.peer_certificate(), ssl.PEM_cert_to_DER_cert(f.read()))

    def test_reload_invalid_yaml(self):
        c = self.login('alice', srv=self.server)
        self.server.write_config(text=self.server.write_config(self.config_with('changed'))
                                 + 'limits: [unclosed\n')
        r = self.server.ctl('reload_config')
        self.assertEqual((r.returncode, r.stdout), (1, ''))
        self.assertTrue(r.stderr.startswith(self.server.config_path + ':'), r.stderr)
        self.assertEqual(self.hello(c), 'hi')
        self.assertEqual(self.hello(self.login('alice', srv=self.server)), 'hi')

    def test_reload_invalid_values(self):
        c = self.login('alice', srv=self.server)
        bad = [
            ('limits', {'auth_timeout': '0s'}),
            ('modules', {'nosuchmodule': {}}),
            ('hello', {'greeting': ['not', 'a', 'string']}),
            ('hello', {'no_such_option': 1}),
        ]
        for what, value in bad:
            with self.subTest(what=what, value=value):
                if what == 'limits':
                    cfg = self.config_with('never')
                    cfg['limits'].update(value)
                elif what == 'modules':
                    mods = dict(self.base_modules)
                    mods.update(value)
                    cfg = self.server.config(modules=mods)
                else:
                    mods = dict(self.base_modules)
                    mods['hello'] = value
                    cfg = self.server.config(modules=mods)
                self.server.write_config(cfg)
                r = self.server.ctl('reload_config')
                self.assertEqual((r.returncode, r.stdout), (1, ''), r.stderr)
                self.assertRegex(r.stderr, r'^%s:\d+: ' % self.server.config_path)
                self.assertEqual(self.hello(c), 'hi')
        # the server still serves new clients
        self.assertEqual(self.hello(self.login('alice', srv=self.server)), 'hi')

    def test_reload_missing_file(self):
        c = self.login('alice', srv=self.server)
        os.rename(self.server.config_path, self.server.config_path + '.away')
        try:
            r = self.server.ctl('reload_config')
        finally:
            os.rename(self.server.config_path + '.away', self.server.config_path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(self.server.config_path, r.stderr)
        self.assertEqual(self.hello(c), 'hi')

    def test_sighup(self):
        c = self.login('alice', srv=self.server)
        self.server.write_config(self.config_with('via sighup'))
        mark = self.server.log_size()
        os.kill(self.server.pid(), 1)
        self.server.wait_log(r'configuration reloaded', since=mark)
        self.assertEqual(self.hello(c), 'via sighup')

    def test_sighup_invalid(self):
        c = self.login('alice', srv=self.server)
        self.server.write_config(text='hosts: [\n')
        mark = self.server.log_size()
        os.kill(self.server.pid(), 1)
        self.server.wait_log(r'reload failed, keeping the running configuration', since=mark)
        self.assertTrue(self.server.alive())
        self.assertEqual(self.hello(c), 'hi')
        self.assertEqual(self.hello(self.login('alice', srv=self.server)), 'hi')

    def test_reload_adds_and_removes_host(self):
        srv = self.server
        crt, key = srv.make_cert('added.test')
        cfg = srv.config()
        cfg['hosts'].append({'name': 'added.test', 'certificate': crt, 'key': key,
                             'modules': {'hello': {'greeting': 'added'}}})
        self.assertEqual(srv.ctl('register', 'u', 'added.test', PASSWORD).stderr,
                         "unknown host 'added.test'\n")
        srv.write_config(cfg)
        srv.ctl_ok('reload_config')
        self.assertEqual(srv.ctl_ok('register', 'u', 'added.test', PASSWORD),
                         'User u@added.test successfully registered\n')
        c = srv.client(domain='added.test', cafile=crt)
        self.addCleanup(c.close)
        c.login('u', PASSWORD, resource='r')
        self.assertEqual(self.hello(c, to='added.test'), 'added')
        self.assertEqual(self.hello(c), 'hi')
        # removing the host ends its sessions
        srv.write_config(srv.config())
        srv.ctl_ok('reload_config')
        cond, _ = c.stream_error()
        self.assertIn(cond, ('host-gone', 'policy-violation', 'system-shutdown'))
        self.assertEqual(srv.ctl('registered_users', 'added.test').returncode, 1)


class ControlSocket(Base):
    """The control socket's own input, sent without starlingctl (which checks arguments before
    sending): the server must check everything again and never stop serving."""

    @staticmethod
    def frame(args, version=1, kind=b'Q', argc=None):
        payload = bytes([version]) + kind + struct.pack('>I', len(args) if argc is None else argc)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            payload += struct.pack('>I', len(a)) + a
        return struct.pack('>I', len(payload)) + payload

    def exchange(self, data, timeout=10):
        """Sends data, returns (code, out, err) of the answer, or None when the server closes
        without one."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(SRV.ctl_socket)
        try:
            s.sendall(data)
            buf = b''
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                if len(buf) >= 4 and len(buf) >= 4 + struct.unpack('>I', buf[:4])[0]:
                    break
        finally:
            s.close()
        if not buf:
            return None
        p = buf[4:]
        self.assertEqual(p[:2], b'\x01A', buf)
        code = p[2]
        out_len = struct.unpack('>I', p[3:7])[0]
        out = p[7:7 + out_len].decode(errors='replace')
        err_len = struct.unpack('>I', p[7 + out_len:11 + out_len])[0]
        err = p[11 + out_len:11 + out_len + err_len].decode(errors='replace')
        return code, out, err

    def assert_alive(self):
        self.assertEqual(SRV.ctl('check_account', 'alice', 'localhost').returncode, 0)

    def test_raw_request_works(self):
        self.assertEqual(self.exchange(self.frame(['check_account', 'alice', 'localhost'])),
                         (0, '', ''))

    def test_wrong_argument_count_on_the_wire(self):
        for args in (['register', 'a'], ['kick_session'], ['stats'], ['status', 'extra'],
                     ['change_password', 'alice', 'localhost', 'x', 'y', 'z']):
            with self.subTest(args=args):
                got = self.exchange(self.frame(args))
                self.assertIsNotNone(got, 'no answer')
                self.assertEqual(got[0], 2, got)
                self.assert_alive()
        self.run_ctl('check_password', 'alice', 'localhost', PASSWORD)

    def test_unknown_command_on_the_wire(self):
        got = self.exchange(self.frame(['frobnicate']))
        self.assertIsNotNone(got)
        self.assertEqual(got[0], 2, got)
        self.assert_alive()

    def test_malformed_frames(self):
        cases = {
            'huge length': b'\xff\xff\xff\xff',
            'over the request limit': struct.pack('>I', 64 * 1024 + 1) + b'x' * 100,
            'no arguments': self.frame([]),
            'too many arguments': self.frame(['status'] * 17),
            'argc larger than the frame': self.frame(['status'], argc=5),
            'bad version': self.frame(['status'], version=9),
            'bad kind': self.frame(['status'], kind=b'A'),
            'argument longer than the frame': struct.pack('>I', 10) + b'\x01Q'
                + struct.pack('>I', 1) + struct.pack('>I', 1000),
            'NUL in an argument': self.frame(['check_account', 'al\0ice', 'localhost']),
            'invalid UTF-8': self.frame([b'check_account', b'\xff\xfe', b'localhost']),
            'zero length frame': struct.pack('>I', 0),
        }
        for name, data in cases.items():
            with self.subTest(name=name):
                got = self.exchange(data)
                if got is not None:
                    self.assertNotEqual(got[0], 0, got)
                self.assert_alive()

    def test_stalled_client_does_not_block(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(SRV.ctl_socket)
        self.addCleanup(s.close)
        s.sendall(self.frame(['status'])[:6])  # half a request, then nothing
        t0 = time.monotonic()
        self.assert_alive()
        self.assertLess(time.monotonic() - t0, 5)

    def test_client_gone_before_answer(self):
        # the answer of a slow command has nowhere to go: the server must just drop it
        for _ in range(5):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(SRV.ctl_socket)
            s.sendall(self.frame(['register', unique('gone'), 'localhost', 'pw']))
            s.close()
        time.sleep(0.5)
        self.assert_alive()
