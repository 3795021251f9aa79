# SPDX-License-Identifier: ISC
# RFC 6121 §4.3.2: probes to a contact with no available resource, answered with its last
# unavailable presence and a XEP-0203 <delay/> for subscribers only (roster + last modules).
#
# What RFC 6121 §4.3.2 asks of the contact's server for a probe: (1) a requester without a 'from'
# subscription learns nothing of the presence (the RFC suggests an "unsubscribed" reply there;
# Starling stays silent, as before); (3) a contact with no available resource: the server SHOULD
# answer with an unavailable presence from the contact's bare JID, with the last unavailable
# presence's content and a <delay/> of when it was produced. A contact who never logged out
# since the last module ran has no such record: the answer is then a plain unavailable
# presence (still §4.3.2 (3): the contact is offline), without <delay/>.
#
# "Nothing arrived" is proven without sleeps: probes are handled in order through the same
# storage queue, so a second probe to a contact that always answers is a barrier for the first.

import calendar
import re
import time
import xml.etree.ElementTree as ET

import harness
from harness import PASSWORD, unique
from rawxmpp import NS_CLIENT, q, to_string

SRV = None
NS_DELAY = 'urn:xmpp:delay'
NS_ROSTER = 'jabber:iq:roster'
STAMP = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')


def setUpModule():
    global SRV
    SRV = harness.module_server('probe-last', modules={'disco': {}, 'ping': {}, 'roster': {},
                                                       'last': {}})


def tearDownModule():
    harness.module_teardown(SRV)


def is_presence(el, frm=None, ptype=None):
    return (el.tag == q(NS_CLIENT, 'presence') and el.get('type') == ptype and
            (frm is None or el.get('from') == frm))


def canon(el):
    text = el.text or ''
    if len(el) and not text.strip():
        text = ''
    return (el.tag, tuple(sorted(el.attrib.items())), text, tuple(canon(k) for k in el))


class ProbeLast(harness.TestCase):
    def users(self, n):
        names = [unique('p').lower() for _ in range(n)]
        for u in names:
            SRV.register(u, PASSWORD)
        return names

    def ctl_item(self, user, contact, sub):
        SRV.ctl_ok('add_rosteritem', user, 'localhost', contact, 'localhost', '', '', sub)

    def subscribe(self, a, b):
        """a gets a 'to' subscription to b, b a 'from' one, without either logging in."""
        self.ctl_item(a, b, 'to')
        self.ctl_item(b, a, 'from')

    def logout(self, c):
        jid = c.jid
        c.send('</stream:stream>')
        c.close()
        SRV.wait_disconnected(jid)

    def drop(self, c):
        jid = c.jid
        c.sock.close()
        c.close()
        SRV.wait_disconnected(jid)

    def barrier(self, c, user):
        """A probe from c to a subscribed contact who never logged in; returns what c got
        before its answer."""
        ghost = unique('ghost').lower()
        SRV.register(ghost, PASSWORD)
        self.subscribe(user, ghost)
        c.send("<presence type='probe' to='%s@localhost'/>" % ghost)
        before = []
        while True:
            el = c.recv(timeout=10)
            if is_presence(el, '%s@localhost' % ghost, 'unavailable'):
                self.assertEqual(canon(el), canon(ET.fromstring(
                    "<presence xmlns='jabber:client' type='unavailable' from='%s@localhost' "
                    "to='%s'/>" % (ghost, c.jid))))
                return [to_string(e) for e in before]
            before.append(el)

    def expected(self, contact, to, status, stamp):
        inner = '<status>%s</status>' % status if status else ''
        if stamp is not None:
            inner += "<delay xmlns='%s' from='localhost' stamp='%s'/>" % (NS_DELAY, stamp)
        return canon(ET.fromstring("<presence xmlns='jabber:client' type='unavailable' "
                                   "from='%s@localhost' to='%s'>%s</presence>"
                                   % (contact, to, inner)))

    def assertStampBetween(self, el, t0, t1):
        d = el.find(q(NS_DELAY, 'delay'))
        self.assertIsNotNone(d, to_string(el))
        stamp = d.get('stamp')
        self.assertRegex(stamp, STAMP)
        secs = calendar.timegm(time.strptime(stamp, '%Y-%m-%dT%H:%M:%SZ'))
        self.assertTrue(int(t0) <= secs <= t1 + 1, (t0, stamp, t1))
        return stamp

    def test_last_unavailable_with_delay_at_login(self):
        a, b = self.users(2)
        self.subscribe(a, b)
        cb = self.login(b)
        t0 = time.time()
        cb.presence(ptype='unavailable', status='gone fishing & <more> "q" ✓')
        cb.sync()
        self.logout(cb)
        t1 = time.time()
        ca = self.login(a, presence=False)
        ca.presence()
        el = ca.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence'), skip=False)
        stamp = self.assertStampBetween(el, t0, t1)
        self.assertEqual(canon(el), self.expected(b, ca.jid, 'gone fishing &amp; &lt;more&gt; '
                                                  '"q" ✓', stamp), to_string(el))
        self.assertEqual(self.barrier(ca, a), [])

    def test_exact_form_gone_fishing(self):
        # the exact bytes: <presence type='unavailable' to='...' from='contact@localhost'>
        # <status>gone fishing</status><delay xmlns='urn:xmpp:delay' from='localhost'
        # stamp='...'/></presence>
        a, b = self.users(2)
        self.subscribe(a, b)
        cb = self.login(b)
        cb.presence(ptype='unavailable', status='gone fishing')
        cb.sync()
        self.logout(cb)
        ca = self.login(a, presence=False)
        ca.presence()
        m = ca.read_until(r"<presence[^>]*type='unavailable'[^>]*>.*?</presence>")
        self.assertRegex(m.group(0),
                         r"^<presence type='unavailable' to='%s' from='%s@localhost'>"
                         r"<status>gone fishing</status><delay xmlns='urn:xmpp:delay' "
                         r"from='localhost' stamp='\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ'/>"
                         r"</presence>$" % (re.escape(ca.jid), re.escape(b)))

    def test_dropped_connection_has_no_status(self):
        # the status of an available presence is not a goodbye: a dropped connection leaves
        # an unavailable presence without <status/> (and the logout time)
        a, b = self.users(2)
        self.subscribe(a, b)
        cb = self.login(b, presence=False)
        cb.presence(status='at work')
        cb.sync()
        t0 = time.time()
        self.drop(cb)
        t1 = time.time()
        # the session is gone; its row is written by the storage thread soon after
        query = "SELECT status FROM last_activity WHERE username = '%s'" % b
        deadline = time.monotonic() + 5
        while SRV.db_rows(query) == [] and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(SRV.db_rows(query), [('',)])
        ca = self.login(a, presence=False)
        ca.presence()
        el = ca.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence'), skip=False)
        stamp = self.assertStampBetween(el, t0, t1)
        self.assertEqual(canon(el), self.expected(b, ca.jid, None, stamp), to_string(el))
        self.assertEqual(self.barrier(ca, a), [])

    def test_never_logged_in(self):
        a, b = self.users(2)
        self.subscribe(a, b)
        ca = self.login(a, presence=False)
        ca.presence()
        el = ca.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence'), skip=False)
        self.assertEqual(canon(el), self.expected(b, ca.jid, None, None), to_string(el))
        self.assertEqual(self.barrier(ca, a), [])

    def test_unsubscribed_requester_gets_nothing(self):
        a, b, c = self.users(3)
        cb = self.login(b)
        cb.presence(ptype='unavailable', status='secret')
        cb.sync()
        self.logout(cb)
        cc = self.login(c)
        # no roster item at all
        cc.send("<presence type='probe' to='%s@localhost'/>" % b)
        self.assertEqual(self.barrier(cc, c), [])
        # b has a 'to' subscription to a (a's item for b: 'from'): a may not see b's presence
        self.ctl_item(b, a, 'to')
        self.ctl_item(a, b, 'from')
        ca = self.login(a)
        ca.send("<presence type='probe' to='%s@localhost'/>" % b)
        self.assertEqual(self.barrier(ca, a), [])
        # pending-out only ('none' + ask) is no subscription either
        ca.send("<presence type='subscribe' to='%s@localhost'/>" % b)
        ca.send("<presence type='probe' to='%s@localhost'/>" % b)
        got = [e for e in self.barrier(ca, a) if 'jabber:iq:roster' not in e]
        self.assertEqual(got, [])

    def test_online_contact_answers_from_its_sessions(self):
        a, b = self.users(2)
        self.subscribe(a, b)
        cb = self.login(b, presence=False)
        cb.presence(status='here')
        cb.sync()
        ca = self.login(a, presence=False)
        ca.presence()
        el = ca.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence'), skip=False)
        self.assertEqual(canon(el), canon(ET.fromstring(
            "<presence xmlns='jabber:client' from='%s' to='%s'><status>here</status></presence>"
            % (cb.jid, ca.jid))))
        self.assertEqual(self.barrier(ca, a), [])

    def test_login_while_answer_is_pending_is_not_contradicted(self):
        # the contact is back before the subscriber logs in: only its available presence
        a, b = self.users(2)
        self.subscribe(a, b)
        cb = self.login(b)
        cb.presence(ptype='unavailable', status='brb')
        cb.sync()
        self.logout(cb)
        cb2 = self.login(b)
        ca = self.login(a, presence=False)
        ca.presence()
        el = ca.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence'), skip=False)
        self.assertTrue(is_presence(el, cb2.jid), to_string(el))
        self.assertEqual(self.barrier(ca, a), [])

    def test_subscription_approved_while_offline(self):
        # b pre-approved a (RFC 6121 §3.4) and left; a's subscribe is approved by the server,
        # which probes b from a's bare JID: the answer goes to a's available resources
        a, b = self.users(2)
        cb = self.login(b)
        cb.send("<presence type='subscribed' to='%s@localhost'/>" % a)
        cb.sync()
        cb.presence(ptype='unavailable', status='pre-approved you')
        cb.sync()
        self.logout(cb)
        ca = self.login(a)
        ca2 = self.login(a)
        ca.send("<presence type='subscribe' to='%s@localhost'/>" % b)
        for c in (ca, ca2):
            el = c.recv_match(lambda e: is_presence(e, '%s@localhost' % b, 'unavailable'))
            stamp = el.find(q(NS_DELAY, 'delay')).get('stamp')
            self.assertEqual(canon(el), self.expected(b, c.jid, 'pre-approved you', stamp),
                             to_string(el))
