# SPDX-License-Identifier: ISC
# Last Activity of contacts (XEP-0012), the server's own caps (XEP-0115) and contact addresses
# (XEP-0157) with raw clients: exact stanzas, the subscription gate, logout rows, caps after reload.

import base64
import hashlib
import time
import xml.etree.ElementTree as ET

import harness
from harness import PASSWORD, unique
from rawxmpp import NS_CLIENT, q, to_string

SRV = None
NS_LAST = 'jabber:iq:last'
NS_INFO = 'http://jabber.org/protocol/disco#info'
NS_CAPS = 'http://jabber.org/protocol/caps'
NS_DATA = 'jabber:x:data'
NS_ROSTER = 'jabber:iq:roster'
LAST = "<query xmlns='jabber:iq:last'/>"
NODE = 'https://starling.example/starlingd'
ADDRESSES = {
    'abuse_addresses': ['mailto:abuse@localhost', 'xmpp:abuse@localhost'],
    'admin_addresses': ['xmpp:admin@localhost'],
    'support_addresses': ['https://localhost/support', 'xmpp:support@localhost'],
}
MODULES = {
    'disco': dict(ADDRESSES), 'ping': {}, 'uptime': {}, 'roster': {}, 'last': {},
}


def setUpModule():
    global SRV
    SRV = harness.module_server('services2', modules=dict(MODULES))


def tearDownModule():
    harness.module_teardown(SRV)


def is_presence(el, ptype=None):
    return el.tag == q(NS_CLIENT, 'presence') and el.get('type') == ptype


def bare(jid):
    return jid.split('/')[0]


class Base(harness.TestCase):
    def users(self, n):
        names = [unique('l') for _ in range(n)]
        for u in names:
            self.srv.register(u, PASSWORD)
        return names

    def subscribe(self, a, ca, b, cb):
        """a asks for b's presence and b approves: a's item has subscription 'to'."""
        ca.send("<presence to='%s@localhost' type='subscribe'/>" % b)
        cb.recv_match(lambda el: is_presence(el, 'subscribe'))
        cb.send("<presence to='%s@localhost' type='subscribed'/>" % a)
        ca.recv_match(lambda el: is_presence(el, 'subscribed'))
        r = ca.iq('get', "<query xmlns='%s'/>" % NS_ROSTER)
        self.assertResult(r)
        items = [(i.get('jid'), i.get('subscription'))
                 for i in r.find(q(NS_ROSTER, 'query')).findall(q(NS_ROSTER, 'item'))]
        self.assertIn(('%s@localhost' % b, 'to'), items)

    def last_rows(self, user):
        return self.srv.db_rows(
            "SELECT host, username, status FROM last_activity WHERE username = '%s'" % user)

    def logout(self, c):
        jid = c.jid
        c.send('</stream:stream>')
        c.close()
        self.srv.wait_disconnected(jid)


class LastActivity(Base):
    def assertLast(self, r, frm, to, seconds_max, status):
        self.assertResult(r, frm=frm)
        self.assertEqual(r.get('to'), to, to_string(r))
        kids = list(r)
        self.assertEqual([k.tag for k in kids], [q(NS_LAST, 'query')], to_string(r))
        secs = int(kids[0].get('seconds'))
        self.assertTrue(0 <= secs <= seconds_max, to_string(r))
        self.assertEqual(kids[0].text, status, to_string(r))
        self.assertEqual(sorted(kids[0].attrib), ['seconds'], to_string(r))
        return secs

    def test_forbidden_without_subscription(self):
        a, b = self.users(2)
        ca = self.login(a)
        self.login(b)
        r = ca.iq('get', LAST, to='%s@localhost' % b)
        self.assertStanzaError(r, 'iq', 'auth', 'forbidden', frm='%s@localhost' % b, to=ca.jid)

    def test_forbidden_with_from_only(self):
        # b sees a's presence (a has 'from'), a does not see b's: a may not ask
        a, b = self.users(2)
        ca = self.login(a)
        cb = self.login(b)
        self.subscribe(b, cb, a, ca)
        r = ca.iq('get', LAST, to='%s@localhost' % b)
        self.assertStanzaError(r, 'iq', 'auth', 'forbidden', frm='%s@localhost' % b, to=ca.jid)
        # and b, who has 'to', may ask about a (online: 0 seconds)
        r = cb.iq('get', LAST, to='%s@localhost' % a)
        self.assertLast(r, '%s@localhost' % a, cb.jid, 0, None)

    def test_online_contact_is_zero(self):
        a, b = self.users(2)
        ca = self.login(a)
        cb = self.login(b)
        self.subscribe(a, ca, b, cb)
        r = ca.iq('get', LAST, to='%s@localhost' % b)
        self.assertLast(r, '%s@localhost' % b, ca.jid, 0, None)

    def test_logout_time_and_status(self):
        a, b = self.users(2)
        ca = self.login(a)
        cb = self.login(b)
        self.subscribe(a, ca, b, cb)
        cb.presence(ptype='unavailable', status='Gone fishing')
        cb.sync()
        self.logout(cb)
        self.assertEqual(self.last_rows(b), [('localhost', b, 'Gone fishing')])
        time.sleep(1.2)
        r = ca.iq('get', LAST, to='%s@localhost' % b)
        secs = self.assertLast(r, '%s@localhost' % b, ca.jid, 30, 'Gone fishing')
        self.assertGreaterEqual(secs, 1)
        # back online: 0 again; the row stays until the next logout
        cb2 = self.login(b)
        r = ca.iq('get', LAST, to='%s@localhost' % b)
        self.assertLast(r, '%s@localhost' % b, ca.jid, 0, None)
        # a dropped TCP connection is a logout too; no status this time
        jid = cb2.jid
        cb2.sock.close()
        cb2.close()
        self.srv.wait_disconnected(jid)
        self.assertEqual(self.last_rows(b), [('localhost', b, '')])
        r = ca.iq('get', LAST, to='%s@localhost' % b)
        self.assertLast(r, '%s@localhost' % b, ca.jid, 30, None)

    def test_only_the_last_session_counts(self):
        a, b = self.users(2)
        ca = self.login(a)
        cb1 = self.login(b)
        cb2 = self.login(b)
        self.subscribe(a, ca, b, cb1)
        self.logout(cb1)
        self.assertEqual(self.last_rows(b), [])
        r = ca.iq('get', LAST, to='%s@localhost' % b)
        self.assertLast(r, '%s@localhost' % b, ca.jid, 0, None)
        self.logout(cb2)
        self.assertEqual(self.last_rows(b), [('localhost', b, '')])

    def test_session_without_presence_is_not_online(self):
        a, b = self.users(2)
        ca = self.login(a)
        cb = self.login(b)
        self.subscribe(a, ca, b, cb)
        self.logout(cb)
        self.login(b, presence=False)  # bound, but not available
        r = ca.iq('get', LAST, to='%s@localhost' % b)
        secs = self.assertLast(r, '%s@localhost' % b, ca.jid, 30, None)
        self.assertIsNotNone(secs)

    def test_own_account(self):
        a, = self.users(1)
        self.logout(self.login(a))
        c2 = self.login(a, presence=False)
        r = c2.iq('get', LAST, to='%s@localhost' % a)
        self.assertLast(r, '%s@localhost' % a, c2.jid, 30, None)
        self.login(a)
        r = c2.iq('get', LAST, to='%s@localhost' % a)
        self.assertLast(r, '%s@localhost' % a, c2.jid, 0, None)

    def test_never_logged_out(self):
        # subscribed, but the contact has no logout on record and is not available
        a, b = self.users(2)
        ca = self.login(a)
        cb = self.login(b)
        self.subscribe(a, ca, b, cb)
        cb.presence(ptype='unavailable')
        cb.sync()
        r = ca.iq('get', LAST, to='%s@localhost' % b)
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable',
                               frm='%s@localhost' % b, to=ca.jid)

    def test_full_jid_goes_to_the_client(self):
        a, b = self.users(2)
        ca = self.login(a)
        cb = self.login(b)
        iid = ca.next_id('last')
        ca.send("<iq type='get' id='%s' to='%s'>%s</iq>" % (iid, cb.jid, LAST))
        got = cb.recv_match(lambda el: el.tag == q(NS_CLIENT, 'iq') and el.get('id') == iid)
        self.assertEqual((got.get('type'), got.get('from'), got.get('to')),
                         ('get', ca.jid, cb.jid), to_string(got))
        self.assertEqual([k.tag for k in got], [q(NS_LAST, 'query')])
        cb.send("<iq type='result' id='%s' to='%s'><query xmlns='%s' seconds='7'/></iq>"
                % (iid, ca.jid, NS_LAST))
        r = ca.recv_match(lambda el: el.tag == q(NS_CLIENT, 'iq') and el.get('id') == iid)
        self.assertLast(r, cb.jid, ca.jid, 7, None)

    def test_server_uptime_kept(self):
        a, = self.users(1)
        ca = self.login(a)
        r = ca.iq('get', LAST, to='localhost')
        self.assertLast(r, 'localhost', ca.jid, 10 ** 6, None)

    def test_account_feature(self):
        a, b = self.users(2)
        ca = self.login(a)
        r = ca.iq('get', "<query xmlns='%s'/>" % NS_INFO, to='%s@localhost' % b)
        self.assertResult(r)
        feats = [f.get('var') for f in r.find(q(NS_INFO, 'query')).findall(q(NS_INFO, 'feature'))]
        self.assertIn(NS_LAST, feats)
        # the server's own info does not gain it from this module (uptime has it)
        r = ca.iq('get', "<query xmlns='%s'/>" % NS_INFO, to='localhost')
        feats = [f.get('var') for f in r.find(q(NS_INFO, 'query')).findall(q(NS_INFO, 'feature'))]
        self.assertEqual(feats.count(NS_LAST), 1)

    def test_user_deleted_drops_row(self):
        a, = self.users(1)
        c = self.login(a)
        self.logout(c)
        self.assertEqual(self.last_rows(a), [('localhost', a, '')])
        self.srv.ctl_ok('unregister', a, 'localhost')
        self.assertEqual(self.last_rows(a), [])


def canon(text):
    return to_string(ET.fromstring(text))


def caps_ver(query):
    """XEP-0115 §5.1 over a disco#info <query/> element, written independently of the server."""
    ids = sorted((i.get('category'), i.get('type'),
                  i.get('{http://www.w3.org/XML/1998/namespace}lang') or '', i.get('name') or '')
                 for i in query.findall(q(NS_INFO, 'identity')))
    s = ''.join('%s/%s/%s/%s<' % i for i in ids)
    s += ''.join('%s<' % f for f in sorted(f.get('var')
                                            for f in query.findall(q(NS_INFO, 'feature'))))
    forms = []
    for x in query.findall(q(NS_DATA, 'x')):
        fields = {f.get('var'): sorted(v.text or '' for v in f.findall(q(NS_DATA, 'value')))
                  for f in x.findall(q(NS_DATA, 'field'))}
        ft = fields.pop('FORM_TYPE')[0]
        forms.append((ft, ''.join('%s<' % var + ''.join('%s<' % v for v in fields[var])
                                  for var in sorted(fields))))
    for ft, body in sorted(forms):
        s += '%s<' % ft + body
    return base64.b64encode(hashlib.sha1(s.encode('utf-8')).digest()).decode()


class Caps(Base):
    def info(self, c, node=None):
        n = " node='%s'" % node if node is not None else ''
        return c.iq('get', "<query xmlns='%s'%s/>" % (NS_INFO, n), to='localhost')

    def caps_of(self, c):
        cs = c.features.findall(q(NS_CAPS, 'c'))
        self.assertEqual(len(cs), 1, to_string(c.features))
        self.assertEqual(sorted(cs[0].attrib), ['hash', 'node', 'ver'])
        self.assertEqual((cs[0].get('hash'), cs[0].get('node')), ('sha-1', NODE))
        return cs[0].get('ver')

    def test_stream_feature_matches_disco(self):
        a, = self.users(1)
        c = self.login(a)
        ver = self.caps_of(c)
        r = self.info(c)
        self.assertResult(r, frm='localhost')
        query = r.find(q(NS_INFO, 'query'))
        self.assertEqual(caps_ver(query), ver)
        # the caps node answers the same info, with the node echoed
        r2 = self.info(c, '%s#%s' % (NODE, ver))
        self.assertResult(r2, frm='localhost')
        query2 = r2.find(q(NS_INFO, 'query'))
        self.assertEqual(query2.get('node'), '%s#%s' % (NODE, ver))
        self.assertEqual([to_string(k) for k in query2], [to_string(k) for k in query])
        # another node, or a stale ver, is unknown
        for node in ('%s#AAAA' % NODE, 'urn:other', NODE):
            r3 = self.info(c, node)
            self.assertStanzaError(r3, 'iq', 'cancel', 'item-not-found', frm='localhost',
                                   to=c.jid)

    def test_features_sorted_unique(self):
        a, = self.users(1)
        c = self.login(a)
        query = self.info(c).find(q(NS_INFO, 'query'))
        feats = [f.get('var') for f in query.findall(q(NS_INFO, 'feature'))]
        self.assertEqual(feats, sorted(set(feats)))
        self.assertEqual([(i.get('category'), i.get('type'), i.get('name'))
                          for i in query.findall(q(NS_INFO, 'identity'))],
                         [('server', 'im', 'Starling')])

    def test_serverinfo_form(self):
        a, = self.users(1)
        c = self.login(a)
        query = self.info(c).find(q(NS_INFO, 'query'))
        xs = query.findall(q(NS_DATA, 'x'))
        self.assertEqual(len(xs), 1)
        self.assertEqual(
            to_string(xs[0]),
            canon("<x xmlns=\"jabber:x:data\" type=\"result\">"
            "<field var=\"FORM_TYPE\" type=\"hidden\">"
            "<value>http://jabber.org/network/serverinfo</value></field>"
            "<field var=\"abuse-addresses\"><value>mailto:abuse@localhost</value>"
            "<value>xmpp:abuse@localhost</value></field>"
            "<field var=\"admin-addresses\"><value>xmpp:admin@localhost</value></field>"
            "<field var=\"support-addresses\"><value>https://localhost/support</value>"
            "<value>xmpp:support@localhost</value></field></x>"))
        # the form is the last child, after identities and features
        self.assertEqual(list(query)[-1].tag, q(NS_DATA, 'x'))


class CapsReload(Base):
    """Its own server: the ver follows the modules across reloads."""
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = harness.module_server('services2-reload', modules={
            'disco': {}, 'ping': {}, 'roster': {}, 'last': {}})

    @classmethod
    def tearDownClass(cls):
        harness.module_teardown(cls.server)

    def test_ver_changes_with_modules(self):
        a, = self.users(1)
        c = self.login(a)
        ver1 = Caps.caps_of(self, c)
        query1 = Caps.info(self, c).find(q(NS_INFO, 'query'))
        self.assertEqual(caps_ver(query1), ver1)
        self.assertEqual(query1.findall(q(NS_DATA, 'x')), [])
        # a new module and contact addresses: new features, a form, a new ver
        self.server.write_config(self.server.config(modules={
            'disco': {'security_addresses': ['mailto:sec@localhost']}, 'ping': {}, 'roster': {},
            'last': {}, 'time': {}}))
        self.server.reload()
        deadline = time.monotonic() + 10
        while True:
            c2 = self.login(a)
            ver2 = Caps.caps_of(self, c2)
            if ver2 != ver1 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertNotEqual(ver2, ver1)
        query2 = Caps.info(self, c2).find(q(NS_INFO, 'query'))
        self.assertIn('urn:xmpp:time',
                      [f.get('var') for f in query2.findall(q(NS_INFO, 'feature'))])
        self.assertEqual(len(query2.findall(q(NS_DATA, 'x'))), 1)
        self.assertEqual(caps_ver(query2), ver2)
        # the old node is now unknown, the new one answers
        r = Caps.info(self, c2, '%s#%s' % (NODE, ver1))
        self.assertStanzaError(r, 'iq', 'cancel', 'item-not-found')
        self.assertResult(Caps.info(self, c2, '%s#%s' % (NODE, ver2)))
