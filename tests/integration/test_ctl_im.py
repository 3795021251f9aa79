# SPDX-License-Identifier: ISC
# starlingctl's IM commands against a running server: get_roster, add_rosteritem,
# delete_rosteritem, send_message, send_stanza; the exact stanzas clients get, and every error.

import re
import time

import harness
from harness import PASSWORD, unique
from rawxmpp import NS_CLIENT, q, Timeout

SRV = None
NS_ROSTER = 'jabber:iq:roster'
NS_DELAY = 'urn:xmpp:delay'
NOROSTER = 'noroster.test'
MAX_ITEMS = 4
DEPTH = 6
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z"
MSG_ID = r"starlingctl-[0-9a-f]{16}"


def setUpModule():
    global SRV
    srv = harness.Server('ctl_im', accounts={'chat-a': PASSWORD, 'chat-b': PASSWORD},
                         modules={'roster': {'max_items': MAX_ITEMS}, 'offline': {},
                                  'disco': {}, 'ping': {}},
                         limits={'max_stanza_size': '4k', 'max_stanza_size_preauth': '4k',
                                 'max_depth': DEPTH})
    crt, key = srv.make_cert(NOROSTER)
    srv.extra_hosts = [{'name': NOROSTER, 'certificate': crt, 'key': key,
                        'modules': {'disco': {}}}]
    try:
        SRV = srv.start()
    except BaseException:
        srv.cleanup()
        raise
    SRV.register('nora', PASSWORD, host=NOROSTER)


def tearDownModule():
    harness.module_teardown(SRV)


def new_user(prefix):
    user = unique(prefix).lower()
    SRV.register(user)
    return user


def esc(text):
    return re.escape(text)


def roster_row(user, jid):
    # groups are stored one per line: shown joined by '|' (a newline would split psql's rows)
    rows = SRV.db_rows("SELECT name, replace(grps, '\n', '|'), sub, ask, listed FROM "
                       "roster_items WHERE host = 'localhost' AND username = '%s' AND jid = '%s'"
                       % (user, jid))
    return rows[0] if rows else None


class Base(harness.TestCase):
    def run_ctl(self, *args, code=0, out='', err=''):
        r = SRV.ctl(*args)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (code, out, err),
                         'starlingctl %s' % ' '.join(map(str, args)))
        return r

    def expect_raw(self, c, pattern, timeout=5):
        """c receives a stanza written exactly as pattern (a regex of the server's bytes)."""
        try:
            return c.read_until(pattern, timeout=timeout)
        except Timeout:
            self.fail('no stanza matching %s; received: %s' % (pattern, c.received[-1500:]))

    def roster_session(self, user, resource):
        """A session that asked for the roster (and so gets pushes)."""
        c = self.login(user, resource=resource)
        r = c.iq('get', "<query xmlns='%s'/>" % NS_ROSTER)
        self.assertEqual(r.get('type'), 'result')
        return c

    @staticmethod
    def push_re(user, resource, ver, item):
        return (r"<iq type='set' id='push\d+' to='%s@localhost/%s' from='%s@localhost'>"
                r"<query xmlns='jabber:iq:roster' ver='%s'>%s</query></iq>"
                % (esc(user), esc(resource), esc(user), ver, item))


class Roster(Base):
    def test_add_push_get_delete(self):
        bob = new_user('bob')
        carol = new_user('carol')
        dan = new_user('dan')
        b1 = self.roster_session(bob, 'r1')
        b2 = self.login(bob, resource='r2')  # never asked for the roster: no push
        b2.sync()
        b1.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence'))  # r2's presence

        self.run_ctl('add_rosteritem', bob, 'localhost', carol, 'localhost', 'Carol C',
                     ' Friends , Work', 'both')
        item = ("<item jid='%s@localhost' name='Carol C' subscription='both'>"
                "<group>Friends</group><group>Work</group></item>" % carol)
        self.expect_raw(b1, self.push_re(bob, 'r1', r'\d+', esc(item)))
        self.assertEqual(roster_row(bob, carol + '@localhost'),
                         ('Carol C', 'Friends|Work', '3', '0', '1'))
        self.run_ctl('add_rosteritem', bob, 'localhost', dan, 'localhost', '', '', 'none')
        self.expect_raw(b1, self.push_re(
            bob, 'r1', r'\d+', esc("<item jid='%s@localhost' subscription='none'/>" % dan)))
        # the domain of a contact need not be served; an empty USER is the domain itself
        self.run_ctl('add_rosteritem', bob, 'localhost', '', 'gw.example', 'Gateway', 'Svc',
                     'to')
        self.expect_raw(b1, self.push_re(bob, 'r1', r'\d+', esc(
            "<item jid='gw.example' name='Gateway' subscription='to'><group>Svc</group></item>")))

        self.run_ctl('get_roster', bob, 'localhost',
                     out=''.join(sorted([
                         '%s@localhost\tCarol C\tboth\tnone\tFriends,Work\n' % carol,
                         '%s@localhost\t\tnone\tnone\t\n' % dan,
                         'gw.example\tGateway\tto\tnone\tSvc\n'])))
        # changing an item replaces name, groups and subscription
        self.run_ctl('add_rosteritem', bob, 'localhost', carol, 'localhost', 'C.', '', 'from')
        self.expect_raw(b1, self.push_re(bob, 'r1', r'\d+', esc(
            "<item jid='%s@localhost' name='C.' subscription='from'/>" % carol)))
        self.assertEqual(roster_row(bob, carol + '@localhost'), ('C.', '', '2', '0', '1'))

        self.run_ctl('delete_rosteritem', bob, 'localhost', carol, 'localhost')
        self.expect_raw(b1, self.push_re(bob, 'r1', r'\d+', esc(
            "<item jid='%s@localhost' subscription='remove'/>" % carol)))
        self.assertIsNone(roster_row(bob, carol + '@localhost'))
        self.run_ctl('get_roster', bob, 'localhost',
                     out=''.join(sorted(['%s@localhost\t\tnone\tnone\t\n' % dan,
                                         'gw.example\tGateway\tto\tnone\tSvc\n'])))
        # the client sees the same roster
        r = b1.iq('get', "<query xmlns='%s'/>" % NS_ROSTER)
        got = sorted(i.get('jid') for i in r.find(q(NS_ROSTER, 'query')))
        self.assertEqual(got, sorted([dan + '@localhost', 'gw.example']))
        # the session that never asked for the roster got no push (the probe of gw.example,
        # which 'to' brought, comes back as an error to the bare JID: both sessions get it)
        b2.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence') and
                      e.get('from') == 'gw.example' and e.get('type') == 'error')
        b2.expect_no_stanza(0.3)
        self.assertNotIn('jabber:iq:roster', b2.received)

    def test_versions_follow(self):
        # a push carries the roster version the client can resume from
        erin = new_user('erin')
        c = self.roster_session(erin, 'v')
        self.run_ctl('add_rosteritem', erin, 'localhost', 'x', 'localhost', '', '', 'none')
        m = self.expect_raw(c, self.push_re(erin, 'v', r'(\d+)', esc(
            "<item jid='x@localhost' subscription='none'/>")))
        ver = m.group(1)
        r = c.iq('get', "<query xmlns='%s' ver='%s'/>" % (NS_ROSTER, ver))
        self.assertEqual((r.get('type'), len(r)), ('result', 0))

    def test_presence_effects(self):
        # both sides made 'both' by the admin: each then sees the other's presence
        alice = new_user('alice')
        dave = new_user('dave')
        a = self.roster_session(alice, 'a')
        a.presence(status='here')
        a.sync()
        d = self.roster_session(dave, 'd')
        d.presence(show='away')
        d.sync()
        self.run_ctl('add_rosteritem', dave, 'localhost', alice, 'localhost', 'Alice', '', 'both')
        self.expect_raw(d, self.push_re(dave, 'd', r'\d+', esc(
            "<item jid='%s@localhost' name='Alice' subscription='both'/>" % alice)))
        self.run_ctl('add_rosteritem', alice, 'localhost', dave, 'localhost', 'Dave', '', 'both')
        self.expect_raw(a, self.push_re(alice, 'a', r'\d+', esc(
            "<item jid='%s@localhost' name='Dave' subscription='both'/>" % dave)))
        # 'from' gained: alice's current presence goes to dave...
        p = d.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence') and
                         e.get('from') == '%s@localhost/a' % alice)
        self.assertIsNone(p.get('type'))
        self.assertEqual(p.findtext(q(NS_CLIENT, 'status')), 'here')
        # ...and 'to' gained: the probe brings dave's presence to alice
        p = a.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence') and
                         e.get('from') == '%s@localhost/d' % dave)
        self.assertEqual(p.findtext(q(NS_CLIENT, 'show')), 'away')

        # removing: alice's push, then dave gets her unavailable and the unsubscriptions
        self.run_ctl('delete_rosteritem', alice, 'localhost', dave, 'localhost')
        self.expect_raw(a, self.push_re(alice, 'a', r'\d+', esc(
            "<item jid='%s@localhost' subscription='remove'/>" % dave)))
        p = d.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence') and
                         e.get('from') == '%s@localhost/a' % alice)
        self.assertEqual(p.get('type'), 'unavailable')
        # the unsubscribe and unsubscribed reach dave's subscription state machine: his
        # roster item for alice loses 'both' and he is told with a push
        push = d.recv_match(lambda e: e.tag == q(NS_CLIENT, 'iq') and e.get('type') == 'set')
        item = push.find(q(NS_ROSTER, 'query')).find(q(NS_ROSTER, 'item'))
        self.assertEqual(item.get('jid'), alice + '@localhost')
        self.assertIn(item.get('subscription'), ('none', 'to', 'from'))

    def test_roster_full(self):
        fay = new_user('fay')
        for i in range(MAX_ITEMS):
            self.run_ctl('add_rosteritem', fay, 'localhost', 'c%d' % i, 'localhost', '', '',
                         'none')
        self.run_ctl('add_rosteritem', fay, 'localhost', 'one-more', 'localhost', '', '', 'to',
                     code=1, err='The roster of %s@localhost is full (at most %d contacts)\n'
                     % (fay, MAX_ITEMS))
        # changing an item already there is fine
        self.run_ctl('add_rosteritem', fay, 'localhost', 'c0', 'localhost', 'Zero', '', 'to')
        self.assertEqual(len(SRV.ctl_ok('get_roster', fay, 'localhost').splitlines()), MAX_ITEMS)


class Messages(Base):
    def test_send_message_online(self):
        gus = new_user('gus')
        g = self.login(gus, resource='g')
        self.run_ctl('send_message', 'chat', 'admin@localhost/ctl', gus + '@localhost', 'Subj',
                     'Hello & <you>')
        self.expect_raw(g, "<message type='chat' id='%s' to='%s@localhost' "
                           "from='admin@localhost/ctl'><subject>Subj</subject>"
                           "<body>Hello &amp; &lt;you&gt;</body></message>" % (MSG_ID, esc(gus)))
        # a headline to the full JID, from the server itself, without a subject
        self.run_ctl('send_message', 'headline', 'localhost', gus + '@localhost/g', '', 'News')
        self.expect_raw(g, "<message type='headline' id='%s' to='%s@localhost/g' "
                           "from='localhost'><body>News</body></message>" % (MSG_ID, esc(gus)))

    def test_send_message_offline(self):
        hal = new_user('hal')
        t0 = time.time()
        self.run_ctl('send_message', 'normal', 'localhost', hal + '@localhost', 'Maintenance',
                     'Tonight at 10')
        # stored once the router has looked the account up: the command does not wait for it
        deadline = time.monotonic() + 10
        while True:
            rows = SRV.db_rows("SELECT sender, stanza FROM offline_messages WHERE host = "
                               "'localhost' AND username = '%s'" % hal)
            if rows or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][0], 'localhost')
        self.assertRegex(rows[0][1], "^<message type='normal' id='%s' to='%s@localhost' "
                         "from='localhost'><subject>Maintenance</subject><body>Tonight at 10"
                         "</body><delay xmlns='urn:xmpp:delay' from='localhost' stamp='%s'/>"
                         "</message>$" % (MSG_ID, esc(hal), STAMP))
        # delivered at login, with its <delay/>
        h = self.login(hal, resource='h')
        m = self.expect_raw(h, "<message type='normal' id='%s' to='%s@localhost' "
                               "from='localhost'><subject>Maintenance</subject><body>Tonight at "
                               "10</body><delay xmlns='urn:xmpp:delay' from='localhost' "
                               "stamp='(%s)'/></message>" % (MSG_ID, esc(hal), STAMP))
        stamp = time.mktime(time.strptime(m.group(1)[:19], '%Y-%m-%dT%H:%M:%S')) - time.timezone
        self.assertLess(abs(stamp - t0), 30)
        deadline = time.monotonic() + 10
        while SRV.db_rows("SELECT stanza FROM offline_messages WHERE username = '%s'" % hal):
            self.assertLess(time.monotonic(), deadline, 'offline row not removed')
            time.sleep(0.05)

    def test_send_message_to_unknown_user_bounces(self):
        # the router answers the sender, as for any message to a missing account
        ivy = new_user('ivy')
        i = self.login(ivy, resource='i')
        self.run_ctl('send_message', 'chat', ivy + '@localhost/i', 'nobody-here@localhost', '',
                     'anyone?')
        el = i.recv_match(lambda e: e.tag == q(NS_CLIENT, 'message'))
        self.assertStanzaError(el, 'message', 'cancel', 'service-unavailable',
                               frm='nobody-here@localhost', to=ivy + '@localhost/i')

    def test_send_stanza(self):
        jon = new_user('jon')
        j = self.login(jon, resource='j')
        # an iq from the user's session to the server: the answer comes back to it
        self.run_ctl('send_stanza', jon + '@localhost/j', 'localhost',
                     "<iq type='get' id='ctl-ping'><ping xmlns='urn:xmpp:ping'/></iq>")
        self.expect_raw(j, "<iq type='result' id='ctl-ping' to='%s@localhost/j' "
                           "from='localhost'/>" % esc(jon))
        # a message: 'to' and 'from' replaced, the payload untouched
        self.run_ctl('send_stanza', 'bot@localhost', jon + '@localhost',
                     "<message to='x@y' type='chat' id='m1'><body>hi</body>"
                     "<x xmlns='urn:example:ext' k='v'>t</x></message>")
        self.expect_raw(j, "<message to='%s@localhost' type='chat' id='m1' from='bot@localhost'>"
                           "<body>hi</body><x xmlns='urn:example:ext' k='v'>t</x></message>"
                           % esc(jon))
        # directed presence to the full JID
        self.run_ctl('send_stanza', 'bot@localhost/b', jon + '@localhost/j',
                     "<presence><status>ready</status></presence>")
        self.expect_raw(j, "<presence from='bot@localhost/b' to='%s@localhost/j'>"
                           "<status>ready</status></presence>" % esc(jon))


class BadInput(Base):
    def test_errors_while_others_chat(self):
        kim = new_user('kim')
        cases = [
            # roster commands
            (('get_roster', 'nobody', 'localhost'), 1,
             'User nobody@localhost does not exist\n'),
            (('get_roster', kim, 'nope.example'), 1, "unknown host 'nope.example'\n"),
            (('get_roster', 'a@b', 'localhost'), 1, "invalid user name 'a@b'\n"),
            (('add_rosteritem', kim, 'localhost', 'x', 'localhost', '', '', 'maybe'), 2,
             "invalid subscription 'maybe'; one of none, from, to, both\n"),
            (('add_rosteritem', 'nobody', 'localhost', 'x', 'localhost', '', '', 'to'), 1,
             'User nobody@localhost does not exist\n'),
            (('add_rosteritem', kim, 'localhost', 'x@y', 'localhost', '', '', 'to'), 1,
             "invalid contact user name 'x@y'\n"),
            (('add_rosteritem', kim, 'localhost', 'x', 'bad host', '', '', 'to'), 1,
             "invalid contact host name 'bad host'\n"),
            (('add_rosteritem', kim, 'localhost', 'x', 'localhost', 'n' * 1024, '', 'to'), 1,
             'nick too long: 1024 bytes, at most 1023\n'),
            (('add_rosteritem', kim, 'localhost', 'x', 'localhost', 'a\x01b', '', 'to'), 1,
             'invalid nick: not UTF-8, or a character XML does not allow\n'),
            (('add_rosteritem', kim, 'localhost', 'x', 'localhost', '', 'g,h,g', 'to'), 1,
             "the group 'g' is given twice\n"),
            (('add_rosteritem', kim, 'localhost', 'x', 'localhost', '',
              ','.join('g%d' % i for i in range(65)), 'to'), 1, 'too many groups: at most 64\n'),
            (('add_rosteritem', 'nora', NOROSTER, 'x', 'localhost', '', '', 'to'), 1,
             "the roster module is not enabled on host '%s'\n" % NOROSTER),
            (('delete_rosteritem', kim, 'localhost', 'stranger', 'localhost'), 1,
             'stranger@localhost is not in the roster of %s@localhost\n' % kim),
            (('delete_rosteritem', 'nobody', 'localhost', 'x', 'localhost'), 1,
             'User nobody@localhost does not exist\n'),
            (('delete_rosteritem', kim, 'nope.example', 'x', 'localhost'), 1,
             "unknown host 'nope.example'\n"),
            # send_message
            (('send_message', 'groupchat', 'localhost', kim + '@localhost', '', 'x'), 2,
             "invalid message type 'groupchat'; one of chat, normal, headline\n"),
            (('send_message', 'chat', 'a@@localhost', kim + '@localhost', '', 'x'), 1,
             "invalid sender JID 'a@@localhost'\n"),
            (('send_message', 'chat', 'a@nope.example', kim + '@localhost', '', 'x'), 1,
             "the sender JID 'a@nope.example' is not on a host served here\n"),
            (('send_message', 'chat', 'localhost', 'b@', '', 'x'), 1,
             "invalid recipient JID 'b@'\n"),
            (('send_message', 'chat', 'localhost', kim + '@localhost', '', ''), 1,
             'nothing to send: SUBJECT and BODY are both empty\n'),
            (('send_message', 'chat', 'localhost', kim + '@localhost', '', 'a\x1bb'), 1,
             'invalid BODY: not UTF-8, or a character XML does not allow\n'),
            (('send_message', 'chat', 'localhost', kim + '@localhost', '', 'b' * 5000), 1,
             'message too large: 5000 bytes of text, at most 4096 (max_stanza_size)\n'),
            # send_stanza
            (('send_stanza', 'localhost', kim + '@localhost', '<message><body>x</message>'), 1,
             'malformed XML in STANZA: not well-formed: mismatched tag at line 1, column 19 of '
             'STANZA\n'),
            (('send_stanza', 'localhost', kim + '@localhost', '<message/><message/>'), 1,
             'malformed XML in STANZA: more than one element\n'),
            (('send_stanza', 'localhost', kim + '@localhost', 'hello'), 1,
             'malformed XML in STANZA: text outside the element\n'),
            (('send_stanza', 'localhost', kim + '@localhost', '<!-- x --><message/>'), 1,
             'malformed XML in STANZA: restricted XML: comment not allowed\n'),
            (('send_stanza', 'localhost', kim + '@localhost', '<a><b><c><d><e><f><g><h><i/>'
              '</h></g></f></e></d></c></b></a>'), 1,
             'malformed XML in STANZA: over a limit: elements nested deeper than %d\n' % DEPTH),
            (('send_stanza', 'localhost', kim + '@localhost', '<foo xmlns="urn:x"/>'), 1,
             "not a stanza: <foo/> in the namespace 'urn:x'; a message, presence or iq in "
             "jabber:client\n"),
            (('send_stanza', 'localhost', kim + '@localhost', "<iq type='get'/>"), 1,
             'invalid iq: it needs an id, a type (get, set, result or error), and exactly one '
             'child when get or set\n'),
            (('send_stanza', 'localhost', kim + '@localhost',
              '<message>%s</message>' % ('x' * 5000)), 1,
             'stanza too large: 5019 bytes, at most 4096 (max_stanza_size)\n'),
            (('send_stanza', 'x@nope.example', kim + '@localhost', '<message/>'), 1,
             "the sender JID 'x@nope.example' is not on a host served here\n"),
            (('send_stanza', 'localhost', '@localhost', '<message/>'), 1,
             "invalid recipient JID '@localhost'\n"),
            # beyond what the control socket carries, starlingctl itself refuses
            (('send_stanza', 'localhost', kim + '@localhost', 'x' * 70000), 2,
             'starlingctl: arguments too long\n'),
            (('add_rosteritem', kim, 'localhost'), 2, None),
        ]
        k = self.roster_session(kim, 'k')
        with harness.Chatter(SRV):
            for args, code, err in cases:
                r = SRV.ctl(*args)
                what = 'starlingctl %s' % ' '.join(a[:60] for a in args)
                self.assertEqual(r.returncode, code, what + ': ' + r.stderr)
                self.assertEqual(r.stdout, '', what)
                if err is not None:
                    self.assertEqual(r.stderr, err, what)
        # nothing reached the user, its roster is untouched, and the server still answers
        self.run_ctl('get_roster', kim, 'localhost')
        k.expect_no_stanza(0.3)
        self.run_ctl('check_account', kim, 'localhost')
