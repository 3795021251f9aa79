# SPDX-License-Identifier: ISC
# Subscription stanzas sent back to back for one (user, contact) pair: no lost update.

import os
import sqlite3
import subprocess
import time

import harness
from harness import PASSWORD
from rawxmpp import NS_CLIENT, q, to_string

NS_ROSTER = 'jabber:iq:roster'
SRV = None
USERS = ('race-a', 'race-b', 'race-c', 'race-d', 'race-e', 'race-f', 'race-g')
ROUNDS = 25


def setUpModule():
    global SRV
    SRV = harness.module_server('roster_race', accounts={u: PASSWORD for u in USERS},
                                modules={'roster': {}, 'ping': {}})


def tearDownModule():
    harness.module_teardown(SRV)


def clear(*users):
    sql = "DELETE FROM roster_items WHERE username IN (%s)" % ', '.join("'%s'" % u for u in users)
    if SRV.backend == 'sqlite':
        con = sqlite3.connect(os.path.join(SRV.tmp, 'db.sqlite'), timeout=10)
        try:
            con.execute(sql)
            con.commit()
        finally:
            con.close()
    else:
        harness.psql(harness.pg_conninfo(SRV.pg_db), sql)


def row(user, jid):
    rows = SRV.db_rows("SELECT sub, ask, pending_in, approved, listed FROM roster_items WHERE "
                       "host = 'localhost' AND username = '%s' AND jid = '%s'" % (user, jid))
    return tuple(int(v) for v in rows[0]) if rows else None


def is_push(el):
    return (el.tag == q(NS_CLIENT, 'iq') and el.get('type') == 'set' and
            el.find(q(NS_ROSTER, 'query')) is not None)


def is_sub(ptype):
    return lambda el: el.tag == q(NS_CLIENT, 'presence') and el.get('type') == ptype


def push_item(el):
    it = el.find(q(NS_ROSTER, 'query')).find(q(NS_ROSTER, 'item'))
    return (it.get('jid'), it.get('subscription'), it.get('ask'))


def take_pushes(c, n):
    """The items of the next n roster pushes to c (answered). Other stanzas stay queued: a
    presence may come before, between or after the pushes."""
    out = []
    for _ in range(n):
        el = c.recv_match(is_push, timeout=10, skip=False)
        c.send("<iq type='result' id='%s'/>" % el.get('id'))
        out.append(push_item(el))
    return out


class Race(harness.TestCase):
    def pushes(self, c, n):
        return take_pushes(c, n)

    def roster_client(self, user):
        c = self.login(user)
        self.assertResult(c.iq('get', "<query xmlns='%s'/>" % NS_ROSTER))
        return c

    def establish_both(self, a, b, ua, ub):
        """From nothing to 'both' both ways, one stanza at a time."""
        ja, jb = ua + '@localhost', ub + '@localhost'
        a.send("<presence to='%s' type='subscribe'/>" % jb)
        self.assertEqual(self.pushes(a, 1), [(jb, 'none', 'subscribe')])
        b.recv_match(is_sub('subscribe'), timeout=10)
        b.send("<presence to='%s' type='subscribed'/>" % ja)
        self.assertEqual(self.pushes(b, 1), [(ja, 'from', None)])
        self.assertEqual(self.pushes(a, 1), [(jb, 'to', None)])
        b.send("<presence to='%s' type='subscribe'/>" % ja)
        self.assertEqual(self.pushes(b, 1), [(ja, 'from', 'subscribe')])
        # the request joins a's listed item: pushed, unchanged to the client, before it
        self.assertEqual(self.pushes(a, 1), [(jb, 'to', None)])
        a.recv_match(is_sub('subscribe'), timeout=10)
        a.send("<presence to='%s' type='subscribed'/>" % jb)
        self.assertEqual(self.pushes(a, 1), [(jb, 'both', None)])
        self.assertEqual(self.pushes(b, 1), [(ja, 'both', None)])
        self.assertEqual(row(ua, jb), (3, 0, 0, 0, 1))
        self.assertEqual(row(ub, ja), (3, 0, 0, 0, 1))

    def test_unsubscribe_unsubscribed_back_to_back(self):
        ua, ub = 'race-a', 'race-b'
        ja, jb = ua + '@localhost', ub + '@localhost'
        clear(ua, ub)
        a = self.roster_client(ua)
        a2 = self.login(ua)  # a second resource of a, sending at the same time
        b = self.roster_client(ub)
        for i in range(ROUNDS):
            clear(ua, ub)
            self.establish_both(a, b, ua, ub)
            if i % 2 == 0:
                # one write: the stanzas of one session are taken in order
                a.send("<presence to='%s' type='unsubscribe'/>"
                       "<presence to='%s' type='unsubscribed'/>" % (jb, jb))
            else:
                # two resources at once: no order between them, but no update may be lost
                a.send("<presence to='%s' type='unsubscribe'/>" % jb)
                a2.send("<presence to='%s' type='unsubscribed'/>" % jb)
            self.assertIn(self.pushes(a, 2), ([(jb, 'from', None), (jb, 'none', None)],
                                              [(jb, 'to', None), (jb, 'none', None)]),
                          'round %d' % i)
            self.assertIn(self.pushes(b, 2), ([(ja, 'to', None), (ja, 'none', None)],
                                              [(ja, 'from', None), (ja, 'none', None)]),
                          'round %d' % i)
            self.assertEqual(row(ua, jb), (0, 0, 0, 0, 1), 'round %d' % i)
            self.assertEqual(row(ub, ja), (0, 0, 0, 0, 1), 'round %d' % i)

    def test_roster_remove_cancels_both(self):
        # the case seen in the field: a roster remove sends unsubscribe + unsubscribed
        ua, ub = 'race-c', 'race-d'
        ja, jb = ua + '@localhost', ub + '@localhost'
        clear(ua, ub)
        a = self.roster_client(ua)
        b = self.roster_client(ub)
        for i in range(ROUNDS):
            self.establish_both(a, b, ua, ub)
            r = a.iq('set', "<query xmlns='%s'><item jid='%s' subscription='remove'/></query>"
                     % (NS_ROSTER, jb))
            self.assertResult(r)
            self.assertEqual(self.pushes(a, 1), [(jb, 'remove', None)], 'round %d' % i)
            self.assertEqual(self.pushes(b, 2), [(ja, 'to', None), (ja, 'none', None)],
                             'round %d' % i)
            self.assertIsNone(row(ua, jb), 'round %d' % i)
            self.assertEqual(row(ub, ja), (0, 0, 0, 0, 1), 'round %d' % i)
            # back to nothing on b's side too, for the next round
            self.assertResult(b.iq('set', "<query xmlns='%s'><item jid='%s' "
                                   "subscription='remove'/></query>" % (NS_ROSTER, ja)))
            self.assertEqual(self.pushes(b, 1), [(ja, 'remove', None)])

    def test_subscribed_subscribe_back_to_back(self):
        # a answers b's request and asks back in one write: b gains 'to' AND keeps the request
        ua, ub = 'race-a', 'race-b'
        ja, jb = ua + '@localhost', ub + '@localhost'
        clear(ua, ub)
        a = self.roster_client(ua)
        a2 = self.login(ua)
        b = self.roster_client(ub)
        for i in range(ROUNDS):
            clear(ua, ub)
            self.assertIsNone(row(ua, jb))
            self.assertIsNone(row(ub, ja))
            b.send("<presence to='%s' type='subscribe'/>" % ja)
            self.assertEqual(self.pushes(b, 1), [(ja, 'none', 'subscribe')], 'round %d' % i)
            a.recv_match(is_sub('subscribe'), timeout=10)
            self.assertEqual(row(ua, jb), (0, 0, 1, 0, 0), 'round %d' % i)
            if i % 2 == 0:
                a.send("<presence to='%s' type='subscribed'/>"
                       "<presence to='%s' type='subscribe'/>" % (jb, jb))
            else:
                a.send("<presence to='%s' type='subscribed'/>" % jb)
                a2.send("<presence to='%s' type='subscribe'/>" % jb)
            # either order is valid; each push is the state after one whole transition
            self.assertIn(self.pushes(a, 2),
                          ([(jb, 'from', None), (jb, 'from', 'subscribe')],
                           [(jb, 'none', 'subscribe'), (jb, 'from', 'subscribe')]),
                          'round %d' % i)
            # a request joining a listed item is pushed too (unchanged to the client)
            self.assertIn(self.pushes(b, 2),
                          ([(ja, 'to', None), (ja, 'to', None)],
                           [(ja, 'none', 'subscribe'), (ja, 'to', None)]),
                          'round %d' % i)
            b.recv_match(is_sub('subscribe'), timeout=10)
            self.assertEqual(row(ub, ja), (1, 0, 1, 0, 1), 'round %d' % i)
            self.assertEqual(row(ua, jb), (2, 1, 0, 0, 1), 'round %d' % i)


# ---- roster sets and admin changes against subscription stanzas of the same user ----
#
# A roster set, an admin add_rosteritem and a subscription stanza each load the row, change some
# of its columns and store the whole row. To make them overlap for certain, the test holds the
# database for a moment so that the second change loads the row before the first has stored it:
# - SQLite (one worker thread, requests in order): the test holds the write lock; a "blocker"
#   write waits for it at the head of the worker's queue, and the loads sent meanwhile queue
#   behind it, so they all run before any of the stores;
# - PostgreSQL (a pool of connections): the test locks the row (FOR UPDATE); the first change's
#   store waits for it while the second loads the row (MVCC: not blocked) and waits to store too.
# Without one order per user, one of the two changes is lost; with it, the second change only
# loads the row once the first is stored.

HOLD = 0.4  # seconds for a sent stanza to reach the point where it waits (or queues)


class DbHold:
    """Holds the database (see above) until release()."""

    def __init__(self, user, jid, srv=None):
        self.srv = srv or SRV
        self.backend = self.srv.backend
        if self.backend == 'sqlite':
            self.con = sqlite3.connect(os.path.join(self.srv.tmp, 'db.sqlite'), timeout=10,
                                       isolation_level=None)
            self.con.execute('BEGIN IMMEDIATE')
            return
        self.psql = subprocess.Popen(
            ['psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d',
             harness.pg_conninfo(self.srv.pg_db)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.psql.stdin.write("BEGIN;\nSELECT 'locked:' || count(*) FROM (SELECT 1 FROM "
                              "roster_items WHERE host = 'localhost' AND username = '%s' AND "
                              "jid = '%s' FOR UPDATE) x;\n" % (user, jid))
        self.psql.stdin.flush()
        line = self.psql.stdout.readline().strip()
        assert line == 'locked:1', 'row lock not taken: %r' % line

    def lock_waiters(self):
        if self.backend == 'sqlite':
            return 0
        out = harness.psql(harness.pg_conninfo(self.srv.pg_db),
                           "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND wait_event_type = 'Lock'")
        return int(out.strip())

    def wait_waiters(self, n, timeout=1.5):
        """Up to timeout for n server statements waiting for the row lock (PostgreSQL): with one
        order per user the second change never gets that far, so this only bounds the wait."""
        deadline = time.monotonic() + timeout
        while self.backend != 'sqlite' and time.monotonic() < deadline:
            if self.lock_waiters() >= n:
                return
            time.sleep(0.05)
        if self.backend == 'sqlite':
            time.sleep(HOLD)

    def release(self):
        if self.backend == 'sqlite':
            self.con.execute('ROLLBACK')
            self.con.close()
            return
        self.psql.stdin.write('COMMIT;\n')
        self.psql.stdin.close()
        self.psql.wait(timeout=10)


def set_xml(iid, jid, name, group):
    return ("<iq type='set' id='%s'><query xmlns='%s'><item jid='%s' name='%s'>"
            "<group>%s</group></item></query></iq>" % (iid, NS_ROSTER, jid, name, group))


def roster_items(c):
    """The items of a roster get: (attributes, groups) each."""
    r = c.iq('get', "<query xmlns='%s'/>" % NS_ROSTER)
    assert r.get('type') == 'result', to_string(r)
    return sorted((sorted(it.items()), [g.text for g in it], [g.tag for g in it])
                  for it in r.find(q(NS_ROSTER, 'query')))


def item_xml(jid, name, sub, ask=None, groups=()):
    attrs = {'jid': jid, 'name': name, 'subscription': sub}
    if ask:
        attrs['ask'] = ask
    return (sorted(attrs.items()), list(groups), [q(NS_ROSTER, 'group')] * len(groups))


def full_row(user, jid):
    return full_row_of(SRV, user, jid)


def full_row_of(srv, user, jid):
    rows = srv.db_rows("SELECT name, grps, sub, ask, pending_in, approved, listed FROM "
                       "roster_items WHERE host = 'localhost' AND username = '%s' AND jid = '%s'"
                       % (user, jid))
    return rows[0] if rows else None


class LaneRace(harness.TestCase):
    """Each case: a roster set or admin change overlapping a subscription stanza for the same
    row; both changes must be kept, whatever the order they are taken in."""

    def is_result(self, iid):
        return lambda el: el.tag == q(NS_CLIENT, 'iq') and el.get('id') == iid

    def pushes(self, c, n):
        return take_pushes(c, n)

    def bye(self, *clients):
        for c in clients:
            if c is not None:
                c.send('</stream:stream>')
                c.close()
                SRV.wait_disconnected(c.jid)

    def start(self, ua, ub):
        """a (asked for the roster), a second resource a2, and the contact b; a lists b."""
        clear(ua, ub, 'race-g')
        a = self.login(ua)
        self.assertEqual(roster_items(a), [])
        a2 = self.login(ua)
        b = self.login(ub)
        jb = ub + '@localhost'
        self.assertResult(a.iq('set', "<query xmlns='%s'><item jid='%s' name='Old'/></query>"
                               % (NS_ROSTER, jb)))
        self.assertEqual(self.pushes(a, 1), [(jb, 'none', None)])
        return a, a2, b

    def blocker(self):
        """SQLite: a session whose write waits for the test's lock at the head of the queue;
        PostgreSQL: None."""
        if SRV.backend != 'sqlite':
            return None
        g = self.login('race-g')
        g.send(set_xml('blk', 'x@localhost', 'X', 'X'))
        time.sleep(HOLD)
        return g

    def unblock(self, g):
        if g is not None:
            self.assertResult(g.recv_match(self.is_result('blk'), timeout=10))

    def test_set_and_subscribe_two_resources(self):
        ua, ub = 'race-e', 'race-f'
        jb = ub + '@localhost'
        for i in range(4):
            with self.subTest(round=i):
                a, a2, b = self.start(ua, ub)
                hold = DbHold(ua, jb)
                g = self.blocker()
                set_first = i % 2 == 0
                what = 'round %d (%s first)' % (i, 'set' if set_first else 'subscribe')
                if set_first:
                    a.send(set_xml('s%d' % i, jb, 'New', 'G'))
                    time.sleep(HOLD)
                    a2.send("<presence to='%s' type='subscribe'/>" % jb)
                else:
                    a2.send("<presence to='%s' type='subscribe'/>" % jb)
                    time.sleep(HOLD)
                    a.send(set_xml('s%d' % i, jb, 'New', 'G'))
                hold.wait_waiters(2)
                hold.release()
                self.unblock(g)
                self.assertResult(a.recv_match(self.is_result('s%d' % i), timeout=10, skip=False))
                # one push per change, each the whole item after it
                self.assertIn(self.pushes(a, 2), ([(jb, 'none', None), (jb, 'none', 'subscribe')],
                                                  [(jb, 'none', 'subscribe')] * 2), what)
                b.recv_match(is_sub('subscribe'), timeout=10)
                a2.sync()
                self.assertEqual(roster_items(a), [item_xml(jb, 'New', 'none', 'subscribe', ['G'])],
                                 what)
                self.assertEqual(full_row(ua, jb), ('New', 'G', '0', '1', '0', '0', '1'), what)
                self.bye(a, a2, b, g)

    def test_set_and_inbound_approval(self):
        ua, ub = 'race-e', 'race-f'
        ja, jb = ua + '@localhost', ub + '@localhost'
        for i in range(4):
            with self.subTest(round=i):
                a, a2, b = self.start(ua, ub)
                a.send("<presence to='%s' type='subscribe'/>" % jb)
                self.assertEqual(self.pushes(a, 1), [(jb, 'none', 'subscribe')])
                b.recv_match(is_sub('subscribe'), timeout=10)
                self.assertEqual(full_row(ua, jb), ('Old', '', '0', '1', '0', '0', '1'))
                hold = DbHold(ua, jb)
                if SRV.backend == 'sqlite':
                    # b's approval waits to be stored; a's set queues behind it and the approval
                    # reaches a's row while the set is in progress
                    b.send("<presence to='%s' type='subscribed'/>" % ja)
                    time.sleep(HOLD)
                    a.send(set_xml('s%d' % i, jb, 'New', 'G'))
                else:
                    a.send(set_xml('s%d' % i, jb, 'New', 'G'))
                    time.sleep(HOLD)
                    b.send("<presence to='%s' type='subscribed'/>" % ja)
                hold.wait_waiters(2)
                hold.release()
                self.assertResult(a.recv_match(self.is_result('s%d' % i), timeout=10, skip=False))
                self.assertIn(self.pushes(a, 2), ([(jb, 'none', 'subscribe'), (jb, 'to', None)],
                                                  [(jb, 'to', None)] * 2), 'round %d' % i)
                b.sync()
                self.assertEqual(roster_items(a), [item_xml(jb, 'New', 'to', None, ['G'])],
                                 'round %d' % i)
                self.assertEqual(full_row(ua, jb), ('New', 'G', '1', '0', '0', '0', '1'),
                                 'round %d' % i)
                self.bye(a, a2, b)

    def test_admin_add_and_subscribe(self):
        ua, ub = 'race-e', 'race-f'
        jb = ub + '@localhost'
        for i in range(4):
            with self.subTest(round=i):
                a, a2, b = self.start(ua, ub)
                hold = DbHold(ua, jb)
                g = self.blocker()
                cmd = [harness.STARLINGCTL, '-s', SRV.ctl_socket, 'add_rosteritem', ua, 'localhost',
                       ub, 'localhost', 'Admin', 'Adm', 'none']
                if SRV.backend == 'sqlite':
                    ctl = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           text=True)
                    time.sleep(HOLD)
                    a2.send("<presence to='%s' type='subscribe'/>" % jb)
                else:
                    a2.send("<presence to='%s' type='subscribe'/>" % jb)
                    time.sleep(HOLD)
                    ctl = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           text=True)
                hold.wait_waiters(2, timeout=3)
                hold.release()
                self.unblock(g)
                out, err = ctl.communicate(timeout=20)
                self.assertEqual((ctl.returncode, out, err), (0, '', ''))
                self.assertEqual(len(self.pushes(a, 2)), 2)
                b.recv_match(is_sub('subscribe'), timeout=10)
                a2.sync()
                self.assertEqual(roster_items(a), [item_xml(jb, 'Admin', 'none', 'subscribe',
                                                            ['Adm'])], 'round %d' % i)
                self.assertEqual(full_row(ua, jb), ('Admin', 'Adm', '0', '1', '0', '0', '1'),
                                 'round %d' % i)
                self.bye(a, a2, b, g)


class LaneDrop(harness.TestCase):
    """Changes waiting in a lane when the module goes (reload) or the server stops: each is
    answered (an error to the client, a message to starlingctl), the running one finishes, and
    nothing leaks (the harness fails a test on a sanitizer report in the log)."""

    def setUp(self):
        super().setUp()
        self.server = harness.Server('roster_drop', accounts={'drop-a': PASSWORD,
                                                               'drop-b': PASSWORD},
                                     modules={'roster': {}, 'ping': {}})
        self.addCleanup(self.server.cleanup)
        self.server.start()

    def queue_three(self):
        """a's set runs (and waits for the held database); a second resource's set and an admin
        change wait behind it in the user's lane."""
        srv = self.server
        jb = 'drop-b@localhost'
        a = self.login('drop-a')
        self.assertResult(a.iq('set', "<query xmlns='%s'><item jid='%s' name='Old'/></query>"
                               % (NS_ROSTER, jb)))
        a2 = self.login('drop-a')
        hold = DbHold('drop-a', jb, srv)
        a.send(set_xml('run', jb, 'A', 'G'))
        time.sleep(HOLD)
        a2.send(set_xml('wait', jb, 'A2', 'G'))
        ctl = subprocess.Popen([harness.STARLINGCTL, '-s', srv.ctl_socket, 'add_rosteritem',
                                'drop-a', 'localhost', 'drop-b', 'localhost', 'Adm', '', 'none'],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(HOLD)
        return a, a2, hold, ctl

    def assert_dropped(self, a2, ctl, hold):
        el = a2.recv_match(lambda e: e.tag == q(NS_CLIENT, 'iq') and e.get('id') == 'wait',
                           timeout=10)
        self.assertStanzaError(el, 'iq', 'cancel', 'service-unavailable')
        hold.release()
        out, err = ctl.communicate(timeout=20)
        if self.server.backend == 'sqlite':
            # the command's account check queues behind the held write (one worker thread):
            # it gets to the roster module only once the module has gone
            want = "the roster module is not enabled on host 'localhost'\n"
        else:
            want = ('Cannot change the roster of drop-a@localhost: the roster change was '
                    'dropped: host, module or storage gone\n')
        self.assertEqual((ctl.returncode, out, err), (1, '', want))

    def test_reload_without_roster(self):
        srv = self.server
        a, a2, hold, ctl = self.queue_three()
        srv.write_config(srv.config(modules={'ping': {}}))
        r = srv.reload()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_dropped(a2, ctl, hold)
        # the running set finishes on its own
        self.assertResult(a.recv_match(lambda e: e.get('id') == 'run', timeout=10))
        self.assertEqual(full_row_of(srv, 'drop-a', 'drop-b@localhost'),
                         ('A', 'G', '0', '0', '0', '0', '1'))
        srv.stop()

    def test_stop_with_waiting_changes(self):
        srv = self.server
        a, a2, hold, ctl = self.queue_three()
        srv.proc.send_signal(harness.signal.SIGTERM)
        time.sleep(HOLD)
        hold.release()
        out, err = ctl.communicate(timeout=20)
        self.assertEqual(ctl.returncode, 1, (out, err))
        # no second signal: the server stops on its own once storage has answered
        rc = srv.wait_exit(30)
        srv.finish()
        self.assertEqual(rc, 0, srv.log_text()[-4000:])
        srv.check_log()
