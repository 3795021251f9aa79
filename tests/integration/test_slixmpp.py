# SPDX-License-Identifier: ISC
# A real client library (slixmpp 1.8) against starlingd: logins with several mechanisms over
# STARTTLS and direct TLS, messages by full and bare JID, and the server's services.

import asyncio
import datetime
import logging
import warnings

import harness
from harness import PASSWORD, unique

try:
    import slixmpp
    from slixmpp.xmlstream import ET
    HAVE_SLIXMPP = True
except ImportError:  # pragma: no cover - Debian's python3-slixmpp is a test dependency
    HAVE_SLIXMPP = False

SRV = None
logging.getLogger('slixmpp').setLevel(logging.CRITICAL)
warnings.filterwarnings('ignore', category=DeprecationWarning)


def setUpModule():
    global SRV
    if not HAVE_SLIXMPP:
        raise harness.unittest.SkipTest('python3-slixmpp is not installed')
    SRV = harness.module_server('slixmpp', accounts={'alice': PASSWORD, 'bob': PASSWORD})


def tearDownModule():
    harness.module_teardown(SRV)


if HAVE_SLIXMPP:
    class Client(slixmpp.ClientXMPP):
        """A slixmpp client pinned to the test server's address (no DNS) that trusts its
        self-signed certificate and nothing else."""

        def __init__(self, jid, password, direct_tls=False, mech=None, priority=None):
            super().__init__(jid, password, sasl_mech=mech)
            self.direct = direct_tls
            self.addr = ('127.0.0.1', SRV.port_tls if direct_tls else SRV.port_c2s)
            self.ca_certs = SRV.cert
            self.priority = priority
            self.messages = asyncio.Queue()
            self.started = asyncio.get_event_loop().create_future()
            self.register_plugin('xep_0030')
            self.register_plugin('xep_0092')
            self.register_plugin('xep_0199')
            self.register_plugin('xep_0202')
            self.add_event_handler('session_start', self.on_start)
            self.add_event_handler('failed_all_auth', self.on_failed)
            self.add_event_handler('message', lambda m: self.messages.put_nowait(m))
            self.add_event_handler('connection_failed', self.on_failed)
            harness.slixmpp_without_channel_binding(self)

        async def get_dns_records(self, domain, port=None):
            return [(domain, self.addr[0], self.addr[1])]

        async def on_start(self, event):
            if self.priority is not None:
                self.send_presence(ppriority=self.priority)
            if not self.started.done():
                self.started.set_result(True)

        def on_failed(self, *args):
            if not self.started.done():
                self.started.set_result(False)

        async def connect_and_wait(self, timeout=15):
            self.connect(self.addr, use_ssl=self.direct, force_starttls=not self.direct)
            return await asyncio.wait_for(self.started, timeout)

        async def close(self):
            self.disconnect()
            try:
                await asyncio.wait_for(self.disconnected, 5)
            except asyncio.TimeoutError:
                pass


class SlixTest(harness.TestCase):
    def run_async(self, coro_fn, timeout=60):
        """Runs coro_fn(clients) in a fresh event loop; clients created through new() are
        disconnected at the end."""
        clients = []

        async def new(*a, **kw):
            c = Client(*a, **kw)
            clients.append(c)
            return c

        async def main():
            try:
                return await asyncio.wait_for(coro_fn(new), timeout)
            finally:
                for c in clients:
                    await c.close()
        return asyncio.run(main())

    def connect(self, new, user, resource=None, **kw):
        async def go():
            c = await new('%s@localhost/%s' % (user, resource or unique('slix')), PASSWORD,
                          **kw)
            self.assertTrue(await c.connect_and_wait(), 'slixmpp could not log in as ' + user)
            return c
        return go()


class Logins(SlixTest):
    def login_with(self, mech, direct):
        mark = SRV.log_size()

        async def scenario(new):
            res = unique('m')
            c = await new('alice@localhost/' + res, PASSWORD, mech=mech, direct_tls=direct)
            ok = await c.connect_and_wait()
            self.assertTrue(ok, 'login with %s failed' % mech)
            self.assertEqual(str(c.boundjid), 'alice@localhost/' + res)
            self.assertEqual(c.authenticated, True)
            self.assertTrue(c.is_secure if hasattr(c, 'is_secure') else True)
            return str(c.boundjid)
        jid = self.run_async(scenario)
        self.assertTrue(jid.startswith('alice@localhost/'))
        used = SRV.wait_log(r'authenticated as alice@localhost \(([A-Z0-9-]+)\)', since=mark)
        if mech is not None:
            self.assertEqual(used.group(1), mech)
        else:
            self.assertRegex(used.group(1), r'^SCRAM-SHA-(1|256|512)$')

    def test_scram_sha1_starttls(self):
        self.login_with('SCRAM-SHA-1', False)

    def test_scram_sha1_direct_tls(self):
        self.login_with('SCRAM-SHA-1', True)

    def test_plain_starttls(self):
        self.login_with('PLAIN', False)

    def test_plain_direct_tls(self):
        self.login_with('PLAIN', True)

    def test_scram_sha256(self):
        self.login_with('SCRAM-SHA-256', False)

    def test_scram_sha512(self):
        self.login_with('SCRAM-SHA-512', True)

    def test_default_mechanism(self):
        self.login_with(None, False)

    def test_wrong_password(self):
        async def scenario(new):
            c = await new('alice@localhost/x', 'wrong', mech='SCRAM-SHA-1')
            return await c.connect_and_wait()
        self.assertFalse(self.run_async(scenario))

    def test_wrong_password_plain(self):
        async def scenario(new):
            c = await new('alice@localhost/x', 'wrong', mech='PLAIN')
            return await c.connect_and_wait()
        self.assertFalse(self.run_async(scenario))


class Messaging(SlixTest):
    PAYLOAD = ("<x xmlns='urn:example:slix' kind='t&amp;t'><item n='1'>one</item>"
               "<item n='2'/></x>")
    BODY = 'slixmpp ✓ <&> "quoted" \'single\''

    def check_payload(self, msg, sender):
        self.assertEqual(msg['body'], self.BODY)
        self.assertEqual(str(msg['from']), sender)
        x = msg.xml.find('{urn:example:slix}x')
        self.assertIsNotNone(x, str(msg))
        expected = ET.fromstring(self.PAYLOAD)
        self.assertEqual(ET.tostring(x), ET.tostring(expected))

    def send_payload(self, sender, to):
        m = sender.make_message(mto=to, mbody=self.BODY, mtype='chat')
        m.append(ET.fromstring(self.PAYLOAD))
        m['id'] = 'slix-1'
        m.send()

    def test_full_jid(self):
        async def scenario(new):
            a = await self.connect(new, 'alice')
            b = await self.connect(new, 'bob', priority=1)
            self.send_payload(a, b.boundjid.full)
            msg = await asyncio.wait_for(b.messages.get(), 10)
            self.check_payload(msg, a.boundjid.full)
            self.assertEqual(msg['id'], 'slix-1')
            self.assertEqual(str(msg['to']), b.boundjid.full)
        self.run_async(scenario)

    def test_bare_jid(self):
        async def scenario(new):
            a = await self.connect(new, 'alice')
            b1 = await self.connect(new, 'bob', priority=10)
            b2 = await self.connect(new, 'bob', priority=2)
            for b in (b1, b2):  # a round trip: their presences are handled
                await b['xep_0199'].ping('localhost', timeout=10)
            self.send_payload(a, 'bob@localhost')
            msg = await asyncio.wait_for(b1.messages.get(), 10)
            self.check_payload(msg, a.boundjid.full)
            await asyncio.sleep(0.5)
            self.assertTrue(b2.messages.empty(), 'the lower priority resource got it too')
        self.run_async(scenario)

    def test_reply_roundtrip(self):
        async def scenario(new):
            a = await self.connect(new, 'alice', priority=0)
            b = await self.connect(new, 'bob', priority=0)
            for i in range(20):
                a.send_message(mto=b.boundjid.full, mbody='ping %d' % i)
                msg = await asyncio.wait_for(b.messages.get(), 10)
                self.assertEqual(msg['body'], 'ping %d' % i)
                msg.reply('pong %d' % i).send()
                back = await asyncio.wait_for(a.messages.get(), 10)
                self.assertEqual(back['body'], 'pong %d' % i)
                self.assertEqual(str(back['from']), b.boundjid.full)
        self.run_async(scenario)

    def test_unknown_user_error(self):
        async def scenario(new):
            a = await self.connect(new, 'alice')
            a.send_message(mto='ghost@localhost', mbody='boo')
            msg = await asyncio.wait_for(a.messages.get(), 10)
            self.assertEqual(msg['type'], 'error')
            self.assertEqual(msg['error']['condition'], 'service-unavailable')
            self.assertEqual(msg['error']['type'], 'cancel')
        self.run_async(scenario)

    def test_remote_domain_error(self):
        async def scenario(new):
            a = await self.connect(new, 'alice')
            a.send_message(mto='x@remote.example', mbody='boo')
            msg = await asyncio.wait_for(a.messages.get(), 10)
            self.assertEqual(msg['type'], 'error')
            self.assertEqual(msg['error']['condition'], 'remote-server-not-found')
        self.run_async(scenario)


class Services(SlixTest):
    def test_ping_version_time_disco(self):
        async def scenario(new):
            a = await self.connect(new, 'alice')
            rtt = await a['xep_0199'].ping('localhost', timeout=10)
            self.assertGreaterEqual(rtt, 0)
            v = await a['xep_0092'].get_version('localhost', timeout=10)
            self.assertEqual(v['software_version']['name'], 'Starling')
            self.assertEqual(v['software_version']['version'], harness.version())
            t = await a['xep_0202'].get_entity_time('localhost', timeout=10)
            # slixmpp's own parser appends a second "Z" to XEP-0082 times: read the element
            text = t.xml.find('{urn:xmpp:time}time/{urn:xmpp:time}utc').text
            utc = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
            self.assertLess(abs((utc - datetime.datetime.now(datetime.timezone.utc))
                                .total_seconds()), 5)
            info = await a['xep_0030'].get_info(jid='localhost', timeout=10)
            feats = info['disco_info']['features']
            for f in ('urn:xmpp:ping', 'jabber:iq:version', 'urn:xmpp:time', 'jabber:iq:last',
                      'urn:starling:test:hello'):
                self.assertIn(f, feats)
            self.assertIn(('server', 'im', None, 'Starling'), info['disco_info']['identities'])
            items = await a['xep_0030'].get_items(jid='localhost', timeout=10)
            self.assertEqual(list(items['disco_items']['items']), [])
            acct = await a['xep_0030'].get_info(jid='bob@localhost', timeout=10)
            self.assertIn(('account', 'registered', None, None),
                          acct['disco_info']['identities'])
        self.run_async(scenario)

    def test_iq_to_unknown_full_jid(self):
        async def scenario(new):
            a = await self.connect(new, 'alice')
            try:
                await a['xep_0092'].get_version('bob@localhost/nowhere', timeout=10)
            except slixmpp.exceptions.IqError as e:
                self.assertEqual(e.condition, 'service-unavailable')
                self.assertEqual(e.etype, 'cancel')
            else:
                self.fail('no error for an iq to an absent resource')
        self.run_async(scenario)
