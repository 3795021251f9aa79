# SPDX-License-Identifier: ISC
# Throwaway starlingd instances for the integration tests: temp dir, certificate, config, ports.
#
# Environment:
#   STARLINGD, STARLINGCTL   the binaries (default: <top>/_build/itest/{starlingd,starlingctl})
#   ST_MODULE_PATH           where mod_hello.so is (default: <builddir>/tests/modules/.libs)
#   ST_BACKEND               sqlite (default) or pgsql
#   ST_TEST_PGSQL            libpq conninfo of a PostgreSQL server where databases may be
#                            created (required for pgsql); one fresh database per server
#   ST_KEEP_TMP=1            keep the temporary directories (logs, configs) after the run
#   ST_VERBOSE=1             copy the server logs to stderr when a server stops

import atexit
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import rawxmpp

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRCDIR = os.path.dirname(os.path.dirname(HERE))


def _default_builddir():
    return os.environ.get('ST_BUILDDIR') or os.path.join(TOP_SRCDIR, '_build', 'itest')


BUILDDIR = _default_builddir()
STARLINGD = os.environ.get('STARLINGD') or os.path.join(BUILDDIR, 'starlingd')
STARLINGCTL = os.environ.get('STARLINGCTL') or os.path.join(BUILDDIR, 'starlingctl')
MODULE_PATH = os.environ.get('ST_MODULE_PATH') or os.path.join(BUILDDIR, 'tests', 'modules',
                                                                '.libs')
PASSWORD = 'secret-Pa55'

# What a sanitizer prints when it finds something (ASan, LSan, UBSan).
SANITIZER_PATTERNS = re.compile(
    r'ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY: \w+Sanitizer|runtime error:|'
    r'WARNING: ThreadSanitizer')


def backend():
    b = os.environ.get('ST_BACKEND', 'sqlite')
    if b not in ('sqlite', 'pgsql'):
        raise RuntimeError('ST_BACKEND must be sqlite or pgsql, not %r' % b)
    return b


def version():
    """The version starlingd reports (PACKAGE_VERSION)."""
    out = subprocess.run([STARLINGD, '--version'], capture_output=True, text=True, check=True)
    m = re.fullmatch(r'starlingd (\S+)\n', out.stdout)
    assert m, out.stdout
    return m.group(1)


_sanitized = []


def sanitized():
    """True when starlingd is built with AddressSanitizer (its memory use is then not
    representative: freed memory sits in ASan's quarantine)."""
    if not _sanitized:
        out = subprocess.run(['ldd', STARLINGD], capture_output=True, text=True).stdout
        _sanitized.append('libasan' in out)
    return _sanitized[0]


# ---- ports ----

_used_ports = set()


def free_port(address='127.0.0.1'):
    """A TCP port nothing listens on now (and that this run has not handed out before)."""
    family = socket.AF_INET6 if ':' in address else socket.AF_INET
    for _ in range(100):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((address, 0))
        port = s.getsockname()[1]
        s.close()
        if port not in _used_ports:
            _used_ports.add(port)
            return port
    raise RuntimeError('no free port')


def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(('::1', 0))
        s.close()
        return True
    except OSError:
        return False


# ---- a tiny YAML writer (block style; scalars quoted when they could be misread) ----

_PLAIN = re.compile(r'^[A-Za-z0-9_./][A-Za-z0-9_./:@-]*$')
_YAML_WORDS = {'true', 'false', 'yes', 'no', 'on', 'off', 'null', 'y', 'n', '~'}


def _scalar(v):
    if v is True:
        return 'true'
    if v is False:
        return 'false'
    if isinstance(v, (int, float)):
        return str(v)
    v = str(v)
    if _PLAIN.match(v) and v.lower() not in _YAML_WORDS:
        return v
    return json.dumps(v)


def to_yaml(obj, indent=0):
    pad = ' ' * indent
    lines = []
    if isinstance(obj, dict):
        if not obj:
            return pad + '{}\n'
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                lines.append('%s%s:\n%s' % (pad, k, to_yaml(v, indent + 2)))
            elif isinstance(v, dict):
                lines.append('%s%s: {}\n' % (pad, k))
            elif isinstance(v, list):
                lines.append('%s%s: []\n' % (pad, k))
            else:
                lines.append('%s%s: %s\n' % (pad, k, _scalar(v)))
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, (dict, list)) and v:
                inner = to_yaml(v, indent + 2)
                lines.append('%s- %s' % (pad, inner[indent + 2:]))
            else:
                lines.append('%s- %s\n' % (pad, _scalar(v)))
    else:
        lines.append(pad + _scalar(obj) + '\n')
    return ''.join(lines)


# ---- PostgreSQL ----

_pg_counter = [0]


def pg_base():
    info = os.environ.get('ST_TEST_PGSQL', '')
    if not info:
        raise RuntimeError('ST_BACKEND=pgsql needs ST_TEST_PGSQL (a libpq conninfo)')
    return info


def pg_conninfo(dbname):
    base = pg_base()
    if re.match(r'^postgres(ql)?://', base):
        from urllib.parse import urlsplit, urlunsplit
        u = urlsplit(base)
        return urlunsplit((u.scheme, u.netloc, '/' + dbname, u.query, u.fragment))
    # libpq takes the last value of a repeated keyword
    return '%s dbname=%s' % (base, dbname)


def psql(conninfo, sql):
    out = subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', '-F', '\t',
                          '-d', conninfo, '-c', sql], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError('psql %r failed: %s' % (sql, out.stderr))
    return out.stdout


def pg_create_db():
    _pg_counter[0] += 1
    name = 'st_itest_%d_%d_%s' % (os.getpid(), _pg_counter[0], uuid.uuid4().hex[:6])
    psql(pg_base(), 'CREATE DATABASE %s' % name)
    return name


def pg_drop_db(name):
    psql(pg_base(), 'DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)


# ---- the server ----

_running = []


@atexit.register
def _kill_leftovers():
    for srv in list(_running):
        try:
            srv.proc.kill()
            srv.proc.wait(5)
        except Exception:
            pass


class ServerError(AssertionError):
    pass


class Server:
    """One starlingd with its own directory, certificate, database and ports.

    Keyword arguments change the configuration: limits (dict merged over the test defaults),
    modules (dict for host localhost), require_tls, extra_hosts, cert_digest."""

    def __init__(self, name='srv', limits=None, modules=None, require_tls=True,
                 extra_hosts=None, cert_digest='sha256', accounts=(), env=None,
                 ipv6=None, log_level='debug', storage=None):
        self.name = name
        self.backend = backend()
        self.tmp = tempfile.mkdtemp(prefix='st-itest-%s-' % name, dir='/tmp')
        self.limits = {
            'auth_timeout': '5s',
            'sasl_failures_per_ip': 1000,
            'sasl_failures_per_account': 1000,
            'scram_iterations': 4096,
        }
        self.limits.update(limits or {})
        self.modules = modules if modules is not None else {
            'disco': {}, 'ping': {}, 'version': {}, 'time': {}, 'uptime': {},
            'hello': {'greeting': 'hi'},
        }
        self.require_tls = require_tls
        self.extra_hosts = extra_hosts or []
        self.ipv6 = have_ipv6() if ipv6 is None else ipv6
        self.log_level = log_level
        self.env = env or {}
        self.storage = storage or {}
        self.ctl_socket = os.path.join(self.tmp, 'ctl.sock')
        self.config_path = os.path.join(self.tmp, 'starling.yml')
        self.log_path = os.path.join(self.tmp, 'starlingd.log')
        self.cert, self.key = self.make_cert('localhost', cert_digest)
        self.port_c2s = free_port('127.0.0.1')
        self.port_tls = free_port('127.0.0.1')
        self.port_v6 = free_port('::1') if self.ipv6 else None
        self.pg_db = None
        self.proc = None
        self.accounts = dict(accounts)
        self.started_at = None
        self.registered = False
        self.log = None

    # -- files --

    def make_cert(self, host, digest='sha256'):
        crt = os.path.join(self.tmp, '%s.crt' % host)
        key = os.path.join(self.tmp, '%s.key' % host)
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                        'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt,
                        '-days', '30', '-subj', '/CN=%s' % host, '-addext',
                        'subjectAltName=DNS:%s' % host, '-%s' % digest],
                       check=True, capture_output=True)
        return crt, key

    def storage_config(self):
        if self.backend == 'sqlite':
            cfg = {'backend': 'sqlite', 'sqlite_path': os.path.join(self.tmp, 'db.sqlite')}
        else:
            if self.pg_db is None:
                self.pg_db = pg_create_db()
            cfg = {'backend': 'pgsql', 'pgsql_conninfo': pg_conninfo(self.pg_db)}
        cfg.update(self.storage)
        return cfg

    def config(self, modules=None, limits=None):
        """The configuration as a dict (to tweak before write_config)."""
        listeners = [
            {'type': 'c2s', 'address': '127.0.0.1', 'port': self.port_c2s},
            {'type': 'c2s_tls', 'address': '127.0.0.1', 'port': self.port_tls},
        ]
        if self.ipv6:
            listeners.append({'type': 'c2s', 'address': '::1', 'port': self.port_v6})
        lim = dict(self.limits)
        lim.update(limits or {})
        hosts = [{'name': 'localhost', 'certificate': self.cert, 'key': self.key,
                  'modules': modules if modules is not None else self.modules}]
        hosts.extend(self.extra_hosts)
        return {
            'log_level': self.log_level,
            'control_socket': self.ctl_socket,
            'module_path': MODULE_PATH,
            'storage': self.storage_config(),
            'limits': lim,
            'tls': {'require_c2s': self.require_tls},
            'listeners': listeners,
            'hosts': hosts,
        }

    def write_config(self, cfg=None, text=None):
        if text is None:
            text = '# starlingd configuration written by tests/integration/harness.py\n'
            text += to_yaml(cfg if cfg is not None else self.config())
        with open(self.config_path + '.tmp', 'w') as f:
            f.write(text)
        os.rename(self.config_path + '.tmp', self.config_path)
        return text

    # -- process --

    def start(self, timeout=20):
        self.write_config()
        env = dict(os.environ)
        env.setdefault('ASAN_OPTIONS', 'abort_on_error=0:detect_leaks=1')
        env.setdefault('UBSAN_OPTIONS', 'print_stacktrace=1')
        env.update(self.env)
        self.log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen([STARLINGD, '-c', self.config_path], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        _running.append(self)
        self.started_at = time.time()
        deadline = time.monotonic() + timeout
        ports = [('127.0.0.1', self.port_c2s), ('127.0.0.1', self.port_tls)]
        if self.ipv6:
            ports.append(('::1', self.port_v6))
        for addr in ports:
            while True:
                if self.proc.poll() is not None:
                    raise ServerError('starlingd exited with %s at start:\n%s'
                                      % (self.proc.returncode, self.log_text()[-4000:]))
                try:
                    socket.create_connection(addr, timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise ServerError('starlingd does not listen on %s:\n%s'
                                          % (addr, self.log_text()[-4000:]))
                    time.sleep(0.05)
        # the socket file appears at bind(), before listen(): wait for an answer
        while self.ctl('status').returncode != 0:
            if time.monotonic() > deadline:
                raise ServerError('no answer on the control socket:\n'
                                  + self.log_text()[-4000:])
            time.sleep(0.05)
        if not self.registered:
            self.registered = True
            for user, pw in list(self.accounts.items()):
                self.register(user, pw)
        return self

    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout=30):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ServerError('starlingd did not exit within %ss:\n%s'
                              % (timeout, self.log_text()[-4000:]))

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the server (unless it already exited), asserts exit 0 and a clean log."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.wait_exit(timeout)
        self.finish()
        if rc != 0:
            raise ServerError('starlingd exited with %s:\n%s' % (rc, self.log_text()[-4000:]))
        self.check_log()

    def finish(self):
        """Releases what the server used, once it has exited."""
        if self in _running:
            _running.remove(self)
        if getattr(self, 'log', None) is not None:
            self.log.close()
        if os.environ.get('ST_VERBOSE'):
            sys.stderr.write('---- log of %s (%s) ----\n%s' % (self.name, self.tmp,
                                                               self.log_text()))

    def check_log(self):
        text = self.log_text()
        m = SANITIZER_PATTERNS.search(text)
        if m:
            start = max(0, m.start() - 200)
            raise ServerError('sanitizer report in the log of %s:\n%s'
                              % (self.name, text[start:start + 6000]))

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self.finish()
        if self.pg_db is not None:
            try:
                pg_drop_db(self.pg_db)
            except RuntimeError as e:
                sys.stderr.write('warning: %s\n' % e)
            self.pg_db = None
        if not os.environ.get('ST_KEEP_TMP'):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def log_text(self):
        try:
            with open(self.log_path, 'rb') as f:
                return f.read().decode('utf-8', errors='replace')
        except OSError:
            return ''

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def wait_log(self, pattern, since=0, timeout=10):
        """Waits for a regex to appear in the log after byte offset since."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            with open(self.log_path, 'rb') as f:
                f.seek(since)
                m = rx.search(f.read().decode('utf-8', errors='replace'))
            if m:
                return m
            time.sleep(0.05)
        raise AssertionError('%r not logged within %ss' % (pattern, timeout))

    def rss_kb(self):
        with open('/proc/%d/status' % self.proc.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
        raise RuntimeError('no VmRSS')

    # -- control --

    def ctl(self, *args, stdin=None, env=None, sock=True, timeout=30):
        cmd = [STARLINGCTL]
        if sock:
            cmd += ['-s', self.ctl_socket]
        cmd += [str(a) for a in args]
        e = dict(os.environ)
        e.pop('STARLING_CTL_SOCKET', None)
        e.update(env or {})
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=e,
                              timeout=timeout)

    def ctl_ok(self, *args, **kw):
        r = self.ctl(*args, **kw)
        if r.returncode != 0:
            raise AssertionError('starlingctl %s: exit %d, stdout %r, stderr %r'
                                 % (' '.join(map(str, args)), r.returncode, r.stdout, r.stderr))
        return r.stdout

    def register(self, user, password=PASSWORD, host='localhost'):
        out = self.ctl_ok('register', user, host, password)
        assert out == 'User %s@%s successfully registered\n' % (user, host), out
        self.accounts[user] = password

    def connected(self):
        return self.ctl_ok('connected_users').splitlines()

    def wait_disconnected(self, full_jid, timeout=10):
        deadline = time.monotonic() + timeout
        while full_jid in self.connected():
            if time.monotonic() > deadline:
                raise AssertionError('%s still connected after %ss' % (full_jid, timeout))
            time.sleep(0.05)

    def reload(self):
        return self.ctl('reload_config')

    # -- storage rows --

    def db_rows(self, sql):
        """Rows of a query on the server's database, every value as text."""
        if self.backend == 'sqlite':
            con = sqlite3.connect('file:%s?mode=ro' % os.path.join(self.tmp, 'db.sqlite'),
                                  uri=True, timeout=10)
            try:
                return [tuple(str(v) for v in row) for row in con.execute(sql).fetchall()]
            finally:
                con.close()
        out = psql(pg_conninfo(self.pg_db), sql)
        return [tuple(line.split('\t')) for line in out.splitlines()]

    # -- clients --

    def client(self, kind='starttls', **kw):
        """A connected RawClient: kind is starttls (IPv4 c2s port), direct (XEP-0368 port)
        or v6 (c2s port on ::1)."""
        kw.setdefault('cafile', self.cert)
        if kind == 'starttls':
            return rawxmpp.RawClient(self.port_c2s, **kw)
        if kind == 'direct':
            return rawxmpp.RawClient(self.port_tls, direct_tls=True, **kw)
        if kind == 'v6':
            return rawxmpp.RawClient(self.port_v6, host='::1', **kw)
        raise ValueError(kind)

    def login(self, user, resource=None, kind='starttls', mech='SCRAM-SHA-256', presence=True,
              priority=None, password=None):
        c = self.client(kind)
        try:
            c.login(user, password or self.accounts.get(user, PASSWORD), resource=resource,
                    mech=mech, presence=presence, priority=priority)
        except BaseException:
            c.close()
            raise
        return c


def slixmpp_without_channel_binding(client):
    """Makes a slixmpp client log in without channel-binding data. slixmpp 1.8 binds channels
    only with tls-unique, which Starling refuses (it is unsafe with TLS 1.3), and for a non-PLUS
    SCRAM it then sends the gs2 flag "y", which a server offering -PLUS must reject as a
    downgrade (RFC 5802 §6). Without the data it sends "n", as a client that cannot bind
    should."""
    fm = client['feature_mechanisms']
    default_creds = fm.sasl_callback

    def creds(required, optional):
        result = default_creds(required, optional)
        if 'channel_binding' in result:
            result['channel_binding'] = None
        return result
    fm.sasl_callback = creds


def unique(prefix='r'):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:10])


class Chatter:
    """Two normal clients exchanging messages in a background thread while a test attacks the
    same server; every message must arrive, during the attack and after it."""

    def __init__(self, server, user_a='chat-a', user_b='chat-b'):
        self.server = server
        self.a = server.login(user_a, resource=unique('chat'))
        self.b = server.login(user_b, resource=unique('chat'))
        self.count = 0
        self.error = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def exchange(self, timeout=10):
        token = unique('ping')
        self.a.message(self.b.jid, token)
        el = self.b.recv_message(timeout=timeout)
        body = el.find(rawxmpp.q(rawxmpp.NS_CLIENT, 'body'))
        if el.get('from') != self.a.jid or body is None or body.text != token:
            raise AssertionError('chatter got %s instead of %r from %s'
                                 % (rawxmpp.to_string(el), token, self.a.jid))
        with self._lock:
            self.count += 1

    def _run(self):
        try:
            while not self._stop.is_set():
                self.exchange()
                time.sleep(0.02)
        except BaseException as e:
            self.error = e

    def __enter__(self):
        self.exchange()
        self.thread.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        # after the attack, the chat must keep going: wait for two more exchanges
        with self._lock:
            target = self.count + 2
        deadline = time.monotonic() + 15
        while self.error is None and self.count < target and time.monotonic() < deadline:
            time.sleep(0.02)
        self._stop.set()
        self.thread.join(20)
        self.a.close()
        self.b.close()
        if exc_type is None:
            if self.error is not None:
                raise AssertionError('the chatting client failed: %r' % self.error)
            if self.count < target:
                raise AssertionError('the chatting clients stopped exchanging messages '
                                     '(%d exchanges)' % self.count)
        return False


# ---- the base of the test classes ----

import unittest  # noqa: E402


class TestCase(unittest.TestCase):
    """Tests use the server their module started (module global SRV) unless a class sets srv."""

    maxDiff = None

    def setUp(self):
        super().setUp()
        # a crash of the module's server is blamed on the test during which it happened
        for srv in (getattr(sys.modules[type(self).__module__], 'SRV', None),
                    type(self).__dict__.get('server')):
            if isinstance(srv, Server) and srv.alive():
                self.addCleanup(self._check_alive, srv)

    @staticmethod
    def _check_alive(srv):
        rc = srv.proc.poll()
        if rc is not None:
            raise ServerError('starlingd (%s) died during this test with status %s:\n%s'
                              % (srv.name, rc, srv.log_text()[-4000:]))

    @property
    def srv(self):
        own = self.__dict__.get("server") or type(self).__dict__.get("server")
        return own if own is not None else sys.modules[type(self).__module__].SRV

    def client(self, kind='starttls', srv=None, **kw):
        c = (srv or self.srv).client(kind, **kw)
        self.addCleanup(c.close)
        return c

    def login(self, user, resource=None, srv=None, **kw):
        server = srv or self.srv
        c = server.login(user, resource=resource or unique(), **kw)
        jid = c.jid

        def logout():
            # end the stream and wait until the server has forgotten the session, so that the
            # next test does not race with it
            try:
                if not c.closed and c.sock is not None:
                    c.send('</stream:stream>')
            except OSError:
                pass
            c.close()
            if server.alive():
                server.wait_disconnected(jid)
        self.addCleanup(logout)
        return c

    def assertStreamError(self, c, cond, text=None, timeout=None):
        """The next stream error on c has condition cond, the stream is closed with
        </stream:stream> and the connection ends."""
        try:
            got, got_text = c.stream_error(timeout=timeout)
        except (rawxmpp.StreamClosed, rawxmpp.Timeout) as e:
            self.fail('expected a <%s/> stream error, got: %s' % (cond, e))
        self.assertEqual(got, cond, 'stream error; received: %r' % c.received[-1500:])
        if text is not None:
            self.assertEqual(got_text, text)
        self.assertTrue(c.read_to_eof(10), 'the connection stays open after the stream error')
        self.assertTrue(c.stream_ended, 'no </stream:stream> after the stream error: %r'
                        % c.received[-500:])
        return got_text

    def assertStanzaError(self, el, kind, etype, cond, frm=None, to=None, sid=None):
        q = rawxmpp.q
        self.assertEqual(el.tag, q(rawxmpp.NS_CLIENT, kind), rawxmpp.to_string(el))
        self.assertEqual(el.get('type'), 'error', rawxmpp.to_string(el))
        got_type, got_cond, _ = rawxmpp.stanza_error(el)
        self.assertEqual((got_type, got_cond), (etype, cond), rawxmpp.to_string(el))
        if frm is not None:
            self.assertEqual(el.get('from'), frm, rawxmpp.to_string(el))
        if to is not None:
            self.assertEqual(el.get('to'), to, rawxmpp.to_string(el))
        if sid is not None:
            self.assertEqual(el.get('id'), sid, rawxmpp.to_string(el))

    def assertResult(self, el, sid=None, frm=None):
        self.assertEqual(el.tag, rawxmpp.q(rawxmpp.NS_CLIENT, 'iq'), rawxmpp.to_string(el))
        self.assertEqual(el.get('type'), 'result', rawxmpp.to_string(el))
        if sid is not None:
            self.assertEqual(el.get('id'), sid)
        if frm is not None:
            self.assertEqual(el.get('from'), frm, rawxmpp.to_string(el))


def module_server(name, **kw):
    """Starts the server of a test module (its setUpModule)."""
    srv = Server(name, **kw)
    try:
        return srv.start()
    except BaseException:
        srv.cleanup()
        raise


def module_teardown(srv):
    if srv is None:
        return
    try:
        srv.stop()
    finally:
        srv.cleanup()
