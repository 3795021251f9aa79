# SPDX-License-Identifier: ISC
# The server's own services: disco (XEP-0030), ping (XEP-0199), version (XEP-0092),
# time (XEP-0202), uptime (XEP-0012) and the hello test module loaded from a shared object.

import datetime
import time

import harness
from harness import PASSWORD
from rawxmpp import to_string

SRV = None

NS_INFO = 'http://jabber.org/protocol/disco#info'
NS_ITEMS = 'http://jabber.org/protocol/disco#items'

SERVER_FEATURES = {
    NS_INFO, NS_ITEMS, 'urn:xmpp:ping', 'jabber:iq:version', 'urn:xmpp:time', 'jabber:iq:last',
    'urn:starling:test:hello',
}


def setUpModule():
    global SRV
    SRV = harness.module_server('services', accounts={'alice': PASSWORD, 'bob': PASSWORD})


def tearDownModule():
    harness.module_teardown(SRV)


def identities(query):
    return sorted((i.get('category'), i.get('type'), i.get('name'))
                  for i in query.findall('{%s}identity' % NS_INFO))


def features(query):
    return [f.get('var') for f in query.findall('{%s}feature' % NS_INFO)]


class Disco(harness.TestCase):
    def test_server_info(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='%s'/>" % NS_INFO, to='localhost')
        self.assertResult(r, frm='localhost')
        query = r.find('{%s}query' % NS_INFO)
        self.assertIsNotNone(query, to_string(r))
        self.assertEqual(identities(query), [('server', 'im', 'Starling')])
        feats = features(query)
        self.assertEqual(len(feats), len(set(feats)), 'duplicate features: %s' % feats)
        self.assertEqual(set(feats), SERVER_FEATURES)
        self.assertEqual(len(query), 1 + len(feats), 'unexpected children: ' + to_string(r))

    def test_server_items(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='%s'/>" % NS_ITEMS, to='localhost')
        self.assertResult(r, frm='localhost')
        query = r.find('{%s}query' % NS_ITEMS)
        self.assertIsNotNone(query, to_string(r))
        self.assertEqual(len(query), 0, to_string(r))

    def test_server_info_unknown_node(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='%s' node='nope'/>" % NS_INFO, to='localhost')
        self.assertStanzaError(r, 'iq', 'cancel', 'item-not-found', frm='localhost')

    def test_account_info(self):
        a = self.login('alice')
        self.login('bob')
        r = a.iq('get', "<query xmlns='%s'/>" % NS_INFO, to='bob@localhost')
        self.assertResult(r, frm='bob@localhost')
        query = r.find('{%s}query' % NS_INFO)
        self.assertEqual(identities(query), [('account', 'registered', None)])
        self.assertTrue({NS_INFO, NS_ITEMS} <= set(features(query)), to_string(r))

    def test_account_info_offline(self):
        # the account exists even while no session is bound
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='%s'/>" % NS_INFO, to='bob@localhost')
        self.assertResult(r, frm='bob@localhost')
        self.assertEqual(identities(r.find('{%s}query' % NS_INFO)),
                         [('account', 'registered', None)])

    def test_own_account_info(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='%s'/>" % NS_INFO)
        self.assertResult(r)
        self.assertEqual(identities(r.find('{%s}query' % NS_INFO)),
                         [('account', 'registered', None)])

    def test_account_items(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='%s'/>" % NS_ITEMS, to='bob@localhost')
        self.assertResult(r, frm='bob@localhost')
        self.assertEqual(len(r.find('{%s}query' % NS_ITEMS)), 0, to_string(r))

    def test_unknown_account_info(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='%s'/>" % NS_INFO, to='ghost@localhost')
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable', frm='ghost@localhost')


class Services(harness.TestCase):
    def test_ping(self):
        a = self.login('alice')
        a.send("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        r = a.recv_match(lambda e: e.get('id') == 'p1')
        self.assertResult(r, sid='p1', frm='localhost')
        self.assertEqual(r.get('to'), a.jid)
        self.assertEqual(len(r), 0, to_string(r))

    def test_version(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='jabber:iq:version'/>", to='localhost')
        self.assertResult(r, frm='localhost')
        query = r.find('{jabber:iq:version}query')
        self.assertEqual([(c.tag, c.text) for c in query],
                         [('{jabber:iq:version}name', 'Starling'),
                          ('{jabber:iq:version}version', harness.version())])

    def test_time(self):
        a = self.login('alice')
        r = a.iq('get', "<time xmlns='urn:xmpp:time'/>", to='localhost')
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertResult(r, frm='localhost')
        t = r.find('{urn:xmpp:time}time')
        self.assertEqual(t.find('{urn:xmpp:time}tzo').text, '+00:00')
        utc = t.find('{urn:xmpp:time}utc').text
        # XEP-0082 DateTime in UTC
        self.assertRegex(utc, r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$')
        when = datetime.datetime.fromisoformat(utc.replace('Z', '+00:00'))
        self.assertLess(abs((when - now).total_seconds()), 5, utc)

    def test_uptime(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='jabber:iq:last'/>", to='localhost')
        self.assertResult(r, frm='localhost')
        secs = int(r.find('{jabber:iq:last}query').get('seconds'))
        elapsed = time.time() - SRV.started_at
        self.assertTrue(0 <= secs <= elapsed + 2, (secs, elapsed))
        ctl = int(SRV.ctl_ok('stats', 'uptimeseconds'))
        self.assertLessEqual(abs(ctl - secs), 2)

    def test_uptime_grows(self):
        a = self.login('alice')
        first = int(a.iq('get', "<query xmlns='jabber:iq:last'/>", to='localhost')
                    .find('{jabber:iq:last}query').get('seconds'))
        time.sleep(2.1)
        second = int(a.iq('get', "<query xmlns='jabber:iq:last'/>", to='localhost')
                     .find('{jabber:iq:last}query').get('seconds'))
        self.assertIn(second - first, (2, 3))

    def test_hello_module(self):
        a = self.login('alice')
        r = a.iq('get', "<query xmlns='urn:starling:test:hello'/>", to='localhost')
        self.assertResult(r, frm='localhost')
        self.assertEqual(r.find('{urn:starling:test:hello}query').text, 'hi')

    def test_hello_set_not_handled(self):
        a = self.login('alice')
        r = a.iq('set', "<query xmlns='urn:starling:test:hello'/>", to='localhost')
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable')

    def test_services_over_direct_tls_and_v6(self):
        for kind in ['direct'] + (['v6'] if harness.have_ipv6() else []):
            with self.subTest(kind=kind):
                a = self.login('alice', kind=kind)
                r = a.iq('get', "<query xmlns='urn:starling:test:hello'/>", to='localhost')
                self.assertEqual(r.find('{urn:starling:test:hello}query').text, 'hi')


class WithoutModules(harness.TestCase):
    """A host with no module at all: nothing answers, everything is service-unavailable."""

    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = harness.module_server('bare', modules={}, accounts={'alice': PASSWORD})

    @classmethod
    def tearDownClass(cls):
        harness.module_teardown(cls.server)

    def test_nothing_answers(self):
        a = self.login('alice', srv=self.server)
        for payload in ["<ping xmlns='urn:xmpp:ping'/>", "<query xmlns='jabber:iq:version'/>",
                        "<query xmlns='%s'/>" % NS_INFO,
                        "<query xmlns='urn:starling:test:hello'/>"]:
            with self.subTest(payload=payload):
                r = a.iq('get', payload, to='localhost')
                self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable')
