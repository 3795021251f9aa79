# SPDX-License-Identifier: ISC
# Storage trouble: a locked database and (PostgreSQL) a database that disappears. Requests fail
# with the right errors after query_timeout, and the event loop keeps serving everyone else.

import sqlite3
import subprocess
import threading
import time

import harness
from harness import PASSWORD, unique

SRV = None  # each test runs its own server


class Stall(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.server = harness.Server('stall', storage={'query_timeout': '1s'},
                                     accounts={'alice': PASSWORD, 'chat-a': PASSWORD,
                                               'chat-b': PASSWORD})
        self.addCleanup(self.server.cleanup)
        self.server.start()

    def lock_database(self, seconds):
        """Holds a lock that blocks the server's queries for seconds (in the background);
        returns a function that waits for the lock to be released."""
        srv = self.server
        ready = threading.Event()
        if srv.backend == 'sqlite':
            def hold():
                con = sqlite3.connect(srv.tmp + '/db.sqlite', timeout=10,
                                      isolation_level=None)
                con.execute('BEGIN EXCLUSIVE')
                ready.set()
                time.sleep(seconds)
                con.execute('COMMIT')
                con.close()
            t = threading.Thread(target=hold)
            t.start()
        else:
            p = subprocess.Popen(['psql', '-X', '-q', '-d', harness.pg_conninfo(srv.pg_db),
                                  '-c', 'BEGIN; LOCK TABLE users, scram_keys IN ACCESS '
                                  'EXCLUSIVE MODE; SELECT pg_sleep(%d); COMMIT;' % seconds],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            # wait until the lock is held
            deadline = time.monotonic() + 10
            while not harness.psql(harness.pg_conninfo(srv.pg_db),
                                   "SELECT 1 FROM pg_locks WHERE mode = 'AccessExclusiveLock' "
                                   "AND relation = 'users'::regclass").strip():
                self.assertLess(time.monotonic(), deadline, 'the lock was never taken')
                time.sleep(0.05)
            ready.set()
            t = threading.Thread(target=p.wait)
            t.start()
        ready.wait(10)
        return lambda: t.join(seconds + 10)

    def test_locked_database_does_not_block_the_loop(self):
        srv = self.server
        with harness.Chatter(srv):
            watcher = srv.login('alice', resource='watch')
            self.addCleanup(watcher.close)
            release = self.lock_database(4)
            result = {}

            def register():
                t0 = time.monotonic()
                result['r'] = srv.ctl('register', unique('locked'), 'localhost', 'pw')
                result['t'] = time.monotonic() - t0
            t = threading.Thread(target=register)
            t.start()
            time.sleep(0.2)
            # the loop answers at once while the storage waits
            for _ in range(5):
                t0 = time.monotonic()
                self.assertResult(watcher.iq('get', "<ping xmlns='urn:xmpp:ping'/>",
                                             to='localhost'))
                self.assertLess(time.monotonic() - t0, 0.5)
            t.join(20)
            release()
        r = result['r']
        self.assertEqual((r.returncode, r.stdout), (1, ''), r.stderr)
        self.assertRegex(r.stderr, r'^Cannot register locked-\w+@localhost: .+\n$')
        # query_timeout is 1 s: the answer came well before the lock was released
        self.assertLess(result['t'], 3.5, 'the request waited for the lock (%.1fs)' % result['t'])
        # and once the lock is gone, everything works again
        srv.register(unique('after'))
        srv.stop()

    def test_locked_database_login_sqlite_reads_through(self):
        # SQLite in WAL mode lets readers through another connection's write lock: logins go on
        srv = self.server
        if srv.backend != 'sqlite':
            return self.check_locked_login_fails_temporarily()
        release = self.lock_database(4)
        c = srv.client()
        self.addCleanup(c.close)
        c.start()
        t0 = time.monotonic()
        self.assertEqual(c.auth_scram('alice', PASSWORD, 'SCRAM-SHA-1')[0], 'success')
        self.assertLess(time.monotonic() - t0, 2.0)
        release()
        srv.stop()

    def check_locked_login_fails_temporarily(self):
        # PostgreSQL: the key lookup waits on the lock until query_timeout, then fails
        srv = self.server
        release = self.lock_database(4)
        c = srv.client()
        self.addCleanup(c.close)
        c.start()
        t0 = time.monotonic()
        self.assertEqual(c.auth_plain('alice', PASSWORD), ('failure', 'temporary-auth-failure'))
        self.assertEqual(c.auth_scram('alice', PASSWORD, 'SCRAM-SHA-1'),
                         ('failure', 'temporary-auth-failure'))
        self.assertLess(time.monotonic() - t0, 3.9)
        release()
        self.assertEqual(c.auth_scram('alice', PASSWORD, 'SCRAM-SHA-1')[0], 'success')
        srv.stop()


class Outage(harness.TestCase):
    backends = ('pgsql',)  # the runner leaves this class out of the SQLite run

    def test_database_dropped(self):
        srv = harness.Server('outage', storage={'query_timeout': '2s'},
                             accounts={'alice': PASSWORD, 'bob': PASSWORD})
        self.addCleanup(srv.cleanup)
        srv.start()
        bob = srv.login('bob', resource='b')
        self.addCleanup(bob.close)
        harness.pg_drop_db(srv.pg_db)
        c = srv.client()
        self.addCleanup(c.close)
        c.start()
        self.assertEqual(c.auth_plain('alice', PASSWORD), ('failure', 'temporary-auth-failure'))
        r = srv.ctl('check_account', 'alice', 'localhost')
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r'^Cannot check alice@localhost: .+\n$')
        # an offline account cannot be looked up: internal-server-error, not a lie
        bob.message('alice@localhost', 'are you there', mid='o1')
        el = bob.recv_message()
        self.assertStanzaError(el, 'message', 'cancel', 'internal-server-error', sid='o1')
        # what needs no storage still works
        self.assertResult(bob.iq('get', "<ping xmlns='urn:xmpp:ping'/>", to='localhost'))
        srv.stop()
