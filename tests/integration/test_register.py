# SPDX-License-Identifier: ISC
# In-band registration (XEP-0077): the pre-auth stream feature and form, account creation,
# conflicts, bad input, rate limits, password change and account removal, raw XML and slixmpp.

import asyncio
import logging
import re
import warnings

import harness
import rawxmpp
from harness import PASSWORD, unique
from rawxmpp import NS_CLIENT, q, to_string

try:
    import slixmpp
    HAVE_SLIXMPP = True
except ImportError:  # pragma: no cover - Debian's python3-slixmpp is a test dependency
    HAVE_SLIXMPP = False

NS_REG = 'jabber:iq:register'
NS_REG_FEATURE = 'http://jabber.org/features/iq-register'
INSTRUCTIONS = 'Choose a username and password for use with this service.'

SRV = None      # registration on, generous limits, vcard for the cascade check
OFF = None      # the module with its defaults: no registration, password change and removal on
RATE = None     # two registrations per IP
TOTAL = None    # two registrations in all; password change and removal off

logging.getLogger('slixmpp').setLevel(logging.CRITICAL)
warnings.filterwarnings('ignore', category=DeprecationWarning)


def setUpModule():
    global SRV, OFF, RATE, TOTAL
    SRV = harness.module_server(
        'register', accounts={'alice': PASSWORD, 'bob': PASSWORD},
        modules={'disco': {}, 'vcard': {},
                 'register': {'allow_registration': True, 'registrations_per_ip': 1000,
                              'registrations_total': 1000, 'min_password_length': 6,
                              'max_username_length': 20}})
    OFF = harness.module_server('register-off', accounts={'carol': PASSWORD},
                                modules={'disco': {}, 'register': {}})
    RATE = harness.module_server(
        'register-rate', accounts={'chat-a': PASSWORD, 'chat-b': PASSWORD},
        modules={'register': {'allow_registration': True, 'registrations_per_ip': 2}})
    TOTAL = harness.module_server(
        'register-total', accounts={'dora': PASSWORD},
        modules={'register': {'allow_registration': True, 'registrations_per_ip': 10,
                              'registrations_total': 2, 'allow_password_change': False,
                              'allow_removal': False}})


def tearDownModule():
    for srv in (SRV, OFF, RATE, TOTAL):
        harness.module_teardown(srv)


def raw_iq(c, iid):
    """The serialized form of the iq with this id, as the server wrote it."""
    m = re.search(r"<iq (?:[^>]*? )?id='%s'[^>]*?(?:/>|>.*?</iq>)" % re.escape(iid), c.received,
                  re.S)
    assert m, 'no iq %s in %r' % (iid, c.received[-2000:])
    return m.group(0)


def reg_query(user=None, password=None, extra=''):
    inner = ''
    if user is not None:
        inner += '<username>%s</username>' % user
    if password is not None:
        inner += '<password>%s</password>' % password
    return "<query xmlns='%s'>%s%s</query>" % (NS_REG, inner, extra)


class Base(harness.TestCase):
    def preauth(self, srv=None):
        """A client past STARTTLS, before SASL."""
        c = self.client(srv=srv)
        c.start()
        return c

    def exchange(self, c, itype, payload, to=None):
        """Sends an iq, waits for its answer, returns (element, exact serialized form)."""
        iid = c.next_id('reg')
        c.send("<iq type='%s' id='%s'%s>%s</iq>"
               % (itype, iid, " to='%s'" % to if to else '', payload))
        el = c.recv_match(lambda e: e.get('id') == iid)
        return el, raw_iq(c, iid).replace(iid, 'ID')

    def register(self, c, user, password=PASSWORD, to='localhost'):
        return self.exchange(c, 'set', reg_query(user, password), to=to)

    def assertRegError(self, el, etype, cond):
        self.assertStanzaError(el, 'iq', etype, cond)
        self.assertIsNone(el.get('to'), to_string(el))

    def assertLoginFails(self, srv, user, password):
        c = self.client(srv=srv)
        c.start()
        self.assertEqual(c.auth_scram(user, password), ('failure', 'not-authorized'))

    def rows(self, srv, table, user):
        return srv.db_rows("SELECT username FROM %s WHERE host = 'localhost' AND username = '%s'"
                           % (table, user))


class Features(Base):
    def test_feature_after_tls_only(self):
        c = self.client()
        first = c.open_stream()
        self.assertIsNone(first.find(q(NS_REG_FEATURE, 'register')), to_string(first))
        features = c.starttls()
        self.assertIsNotNone(features.find(q(NS_REG_FEATURE, 'register')), to_string(features))
        self.assertIn("<register xmlns='%s'/>" % NS_REG_FEATURE, c.received)

    def test_no_feature_after_auth(self):
        c = self.client()
        c.start()
        features = c.authenticate('alice', PASSWORD)
        self.assertIsNone(features.find(q(NS_REG_FEATURE, 'register')), to_string(features))

    def test_disabled_by_default(self):
        c = self.preauth(srv=OFF)
        self.assertIsNone(c.features.find(q(NS_REG_FEATURE, 'register')),
                          to_string(c.features))
        el, raw = self.exchange(c, 'get', reg_query(), to='localhost')
        self.assertEqual(raw, "<iq type='error' id='ID' from='localhost'><error type='cancel'>"
                              "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                              "</error></iq>")
        el, _ = self.register(c, 'mallory')
        self.assertRegError(el, 'cancel', 'service-unavailable')
        self.assertEqual(self.rows(OFF, 'users', 'mallory'), [])
        # the stream goes on: the client may still log in
        c.authenticate('carol', PASSWORD)
        c.bind()

    def test_without_module(self):
        # without the module, a pre-auth iq ends the stream as any pre-auth stanza does
        srv = harness.module_server('register-none', modules={})
        self.addCleanup(harness.module_teardown, srv)
        c = self.preauth(srv=srv)
        self.assertIsNone(c.features.find(q(NS_REG_FEATURE, 'register')),
                          to_string(c.features))
        c.send("<iq type='get' id='r1' to='localhost'>%s</iq>" % reg_query())
        self.assertStreamError(c, 'not-authorized')

    def test_disco_feature(self):
        c = self.login('alice')
        el = c.iq('get', "<query xmlns='http://jabber.org/protocol/disco#info'/>", to='localhost')
        vars_ = [f.get('var') for f in el.iter(q('http://jabber.org/protocol/disco#info',
                                                 'feature'))]
        self.assertIn(NS_REG, vars_)


class PreAuth(Base):
    def test_form(self):
        c = self.preauth()
        _, raw = self.exchange(c, 'get', reg_query(), to='localhost')
        self.assertEqual(raw, "<iq type='result' id='ID' from='localhost'><query xmlns='%s'>"
                              "<instructions>%s</instructions><username/><password/></query>"
                              "</iq>" % (NS_REG, INSTRUCTIONS))
        # without 'to', the answer has no address at all
        _, raw = self.exchange(c, 'get', reg_query())
        self.assertTrue(raw.startswith("<iq type='result' id='ID'><query"), raw)

    def test_register_then_login_same_stream(self):
        user = unique('new')
        c = self.preauth()
        _, raw = self.register(c, user, 'sekrit-1')
        self.assertEqual(raw, "<iq type='result' id='ID' from='localhost'/>")
        self.assertEqual(self.rows(SRV, 'users', user), [(user,)])
        self.assertEqual(len(self.rows(SRV, 'scram_keys', user)), 3)
        c.authenticate(user, 'sekrit-1')
        self.assertEqual(c.bind('r1'), '%s@localhost/r1' % user)
        # a brand-new connection works too, and the new account can chat
        d = self.login(user, password='sekrit-1')
        a = self.login('alice')
        a.message(d.jid, 'welcome')
        m = d.recv_message()
        self.assertEqual(m.find(q(NS_CLIENT, 'body')).text, 'welcome')

    def test_username_is_prepared(self):
        user = unique('case')
        c = self.preauth()
        el, _ = self.register(c, user.upper())
        self.assertResult(el)
        self.assertEqual(self.rows(SRV, 'users', user), [(user,)])
        self.login(user)

    def test_conflict(self):
        c = self.preauth()
        el, raw = self.register(c, 'alice', 'another-password')
        self.assertEqual(raw, "<iq type='error' id='ID' from='localhost'><error type='cancel'>"
                              "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                              "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>"
                              "the username is taken</text></error></iq>")
        # alice keeps her password
        self.login('alice')
        self.assertLoginFails(SRV, 'alice', 'another-password')

    def test_second_registration_on_stream(self):
        c = self.preauth()
        first, second = unique('one'), unique('two')
        self.assertResult(self.register(c, first)[0])
        el, _ = self.register(c, second)
        self.assertRegError(el, 'modify', 'not-acceptable')
        self.assertEqual(self.rows(SRV, 'users', second), [])

    def test_bad_input(self):
        c = self.preauth()
        long_user = 'u' * 21
        cases = [
            (reg_query('bad@user', PASSWORD), 'modify', 'jid-malformed'),
            (reg_query('bad user', PASSWORD), 'modify', 'jid-malformed'),
            (reg_query(long_user, PASSWORD), 'modify', 'not-acceptable'),
            (reg_query('x' * 1100, PASSWORD), 'modify', 'jid-malformed'),
            (reg_query(None, PASSWORD), 'modify', 'not-acceptable'),
            (reg_query('', PASSWORD), 'modify', 'not-acceptable'),
            (reg_query('nopass', None), 'modify', 'not-acceptable'),
            (reg_query('emptypass', ''), 'modify', 'not-acceptable'),
            (reg_query('shortpass', '12345'), 'modify', 'not-acceptable'),
            (reg_query('longpass', 'p' * 1024), 'modify', 'not-acceptable'),
            (reg_query(None, None, '<remove/>'), 'auth', 'registration-required'),
        ]
        for payload, etype, cond in cases:
            el, _ = self.exchange(c, 'set', payload, to='localhost')
            self.assertRegError(el, etype, cond)
        for name in ('nopass', 'emptypass', 'shortpass', 'longpass', long_user):
            self.assertEqual(self.rows(SRV, 'users', name), [])
        # still usable afterwards
        self.assertResult(self.register(c, unique('ok'))[0])

    def test_other_preauth_iq_is_refused(self):
        c = self.preauth()
        c.send("<iq type='get' id='v1' to='localhost'><query xmlns='jabber:iq:version'/></iq>")
        self.assertStreamError(c, 'not-authorized')

    def test_iq_to_other_entity_is_refused(self):
        c = self.preauth()
        c.send("<iq type='get' id='v1' to='alice@localhost'>%s</iq>" % reg_query())
        self.assertStreamError(c, 'not-authorized')

    def test_message_is_refused(self):
        c = self.preauth()
        c.send("<message to='alice@localhost'><body>hi</body></message>")
        self.assertStreamError(c, 'not-authorized')

    def test_before_tls_is_refused(self):
        c = self.client()
        c.open_stream()
        c.send("<iq type='get' id='r1' to='localhost'>%s</iq>" % reg_query())
        self.assertStreamError(c, 'not-authorized')

    def test_pipelined_register_and_auth(self):
        """The SASL exchange sent right behind the registration waits for it."""
        user = unique('pipe')
        c = self.preauth()
        sc = rawxmpp.ScramClient('SCRAM-SHA-256', user, PASSWORD)
        c.send("<iq type='set' id='p1' to='localhost'>%s</iq>" % reg_query(user, PASSWORD))
        c.sasl_send('auth', sc.first(), mechanism='SCRAM-SHA-256')
        self.assertResult(c.recv_match(lambda e: e.get('id') == 'p1'), sid='p1')
        el = c.sasl_recv()
        self.assertEqual(el.tag, q(rawxmpp.NS_SASL, 'challenge'), to_string(el))


class RateLimits(Base):
    def test_per_ip_limit_while_others_chat(self):
        with harness.Chatter(RATE):
            c = self.preauth(srv=RATE)
            self.assertResult(self.register(c, unique('r1'))[0])
            d = self.preauth(srv=RATE)
            self.assertResult(self.register(d, unique('r2'))[0])
            e = self.preauth(srv=RATE)
            user = unique('r3')
            el, raw = self.register(e, user)
            self.assertRegError(el, 'wait', 'policy-violation')
            self.assertIn('too many registrations from your address', raw)
            self.assertEqual(self.rows(RATE, 'users', user), [])
            # a refused or failed attempt does not use the budget up further, and the stream
            # stays usable for logging in
            el, _ = self.register(e, 'chat-a')
            self.assertRegError(el, 'wait', 'policy-violation')
            e.authenticate('chat-a', PASSWORD)

    def test_conflict_does_not_count(self):
        c = self.preauth(srv=TOTAL)
        for _ in range(3):
            el, _ = self.register(c, 'dora')
            self.assertRegError(el, 'cancel', 'conflict')

    def test_global_limit(self):
        made = []
        for i in range(3):
            c = self.preauth(srv=TOTAL)
            user = unique('t%d' % i)
            el, _ = self.register(c, user)
            if i < 2:
                self.assertResult(el)
                made.append(user)
            else:
                self.assertRegError(el, 'wait', 'resource-constraint')
                self.assertEqual(self.rows(TOTAL, 'users', user), [])
        for user in made:
            self.assertEqual(self.rows(TOTAL, 'users', user), [(user,)])


class LoggedIn(Base):
    def new_account(self, srv=None, password=PASSWORD):
        srv = srv or SRV
        user = unique('acct')
        srv.register(user, password)
        return user

    def test_get_registered(self):
        user = self.new_account()
        c = self.login(user)
        _, raw = self.exchange(c, 'get', reg_query(), to='localhost')
        self.assertEqual(raw, "<iq type='result' id='ID' to='%s' from='localhost'>"
                              "<query xmlns='%s'><registered/><username>%s</username>"
                              "<password/></query></iq>" % (c.jid, NS_REG, user))
        # without 'to': the account itself answers
        el, _ = self.exchange(c, 'get', reg_query())
        self.assertEqual(el.find(q(NS_REG, 'query')).find(q(NS_REG, 'username')).text, user)

    def test_password_change(self):
        user = self.new_account()
        c = self.login(user)
        _, raw = self.exchange(c, 'set', reg_query(user, 'new-password'), to='localhost')
        self.assertEqual(raw, "<iq type='result' id='ID' to='%s' from='localhost'/>" % c.jid)
        self.login(user, password='new-password', mech='SCRAM-SHA-1')
        self.login(user, password='new-password', mech='SCRAM-SHA-512')
        self.login(user, password='new-password', mech='PLAIN')
        self.assertLoginFails(SRV, user, PASSWORD)
        # the session that changed it is still there
        self.assertEqual(c.iq('get', reg_query()).get('type'), 'result')

    def test_password_change_when_registration_is_off(self):
        user = self.new_account(OFF)
        c = self.login(user, srv=OFF)
        el, _ = self.exchange(c, 'set', reg_query(user, 'changed-pw'))
        self.assertResult(el)
        self.login(user, srv=OFF, password='changed-pw')
        self.assertLoginFails(OFF, user, PASSWORD)

    def test_password_change_errors(self):
        user = self.new_account()
        c = self.login(user)
        cases = [
            (reg_query(None, 'new-password'), 'modify', 'bad-request'),
            (reg_query('alice', 'new-password'), 'cancel', 'not-allowed'),
            (reg_query(user, None), 'modify', 'bad-request'),
            (reg_query(user, ''), 'modify', 'not-acceptable'),
            (reg_query(user, '123'), 'modify', 'not-acceptable'),
            (reg_query(user, 'x' * 1024), 'modify', 'not-acceptable'),
        ]
        for payload, etype, cond in cases:
            el, raw = self.exchange(c, 'set', payload, to='localhost')
            self.assertStanzaError(el, 'iq', etype, cond, to=c.jid)
            # XEP-0077 §3.3: the original payload is not echoed back
            self.assertNotIn('<query', raw)
        self.login(user)
        self.login('alice')

    def test_not_for_other_accounts(self):
        c = self.login('bob')
        el, _ = self.exchange(c, 'set', reg_query('alice', 'hijacked!'), to='alice@localhost')
        self.assertStanzaError(el, 'iq', 'cancel', 'service-unavailable')
        self.login('alice')

    def test_remove(self):
        user = self.new_account()
        c1 = self.login(user, resource='one')
        c2 = self.login(user, resource='two')
        c1.iq('set', "<vCard xmlns='vcard-temp'><FN>Gone Soon</FN></vCard>")
        self.assertEqual(self.rows(SRV, 'vcards', user), [(user,)])
        other = self.login('alice')
        iid = 'rm1'
        c1.send("<iq type='set' id='%s'>%s</iq>" % (iid, reg_query(None, None, '<remove/>')))
        self.assertResult(c1.recv_match(lambda e: e.get('id') == iid), sid=iid)
        self.assertStreamError(c1, 'not-authorized')
        self.assertStreamError(c2, 'not-authorized')
        for table in ('users', 'scram_keys', 'vcards'):
            self.assertEqual(self.rows(SRV, table, user), [], table)
        self.assertLoginFails(SRV, user, PASSWORD)
        self.assertNotIn('%s@localhost/one' % user, SRV.connected())
        # everyone else is unaffected
        other.iq('get', reg_query())

    def test_remove_with_other_children(self):
        user = self.new_account()
        c = self.login(user)
        el, _ = self.exchange(c, 'set', reg_query(user, None, '<remove/>'), to='localhost')
        self.assertStanzaError(el, 'iq', 'modify', 'bad-request')
        self.assertEqual(self.rows(SRV, 'users', user), [(user,)])

    def test_disabled_change_and_removal(self):
        c = self.login('dora', srv=TOTAL)
        el, _ = self.exchange(c, 'set', reg_query('dora', 'new-password'))
        self.assertStanzaError(el, 'iq', 'cancel', 'not-allowed')
        el, _ = self.exchange(c, 'set', reg_query(None, None, '<remove/>'))
        self.assertStanzaError(el, 'iq', 'cancel', 'not-allowed')
        self.assertEqual(self.rows(TOTAL, 'users', 'dora'), [('dora',)])
        self.login('dora', srv=TOTAL)


if HAVE_SLIXMPP:
    class SlixClient(slixmpp.ClientXMPP):
        """slixmpp pinned to the test server, with XEP-0077; registers when told to."""

        def __init__(self, jid, password, create=False):
            super().__init__(jid, password)
            self.addr = ('127.0.0.1', SRV.port_c2s)
            self.ca_certs = SRV.cert
            self.started = asyncio.get_event_loop().create_future()
            self.registered = None
            self.register_plugin('xep_0030')
            self.register_plugin('xep_0004')
            self.register_plugin('xep_0066')
            self.register_plugin('xep_0077')
            self['xep_0077'].create_account = create
            # slixmpp 1.8 queues every stanza until the session starts, which would hold the
            # registration iq back forever: let it through, as its own example client needs
            self._always_send_everything = create
            if create:
                self.add_event_handler('register', self.on_register)
            self.add_event_handler('session_start', self.on_start)
            self.add_event_handler('failed_all_auth', self.on_failed)
            self.add_event_handler('connection_failed', self.on_failed)
            harness.slixmpp_without_channel_binding(self)

        async def get_dns_records(self, domain, port=None):
            return [(domain, self.addr[0], self.addr[1])]

        async def on_register(self, form):
            iq = self.Iq()
            iq['type'] = 'set'
            iq['register']['username'] = self.boundjid.user
            iq['register']['password'] = self.password
            try:
                await iq.send()
                self.registered = True
            except slixmpp.exceptions.IqError as e:
                self.registered = e.iq['error']['condition']

        async def on_start(self, event):
            if not self.started.done():
                self.started.set_result(True)

        def on_failed(self, *args):
            if not self.started.done():
                self.started.set_result(False)

        async def run(self, timeout=15):
            self.connect(self.addr, force_starttls=True)
            return await asyncio.wait_for(self.started, timeout)

        async def close(self):
            self.disconnect()
            try:
                await asyncio.wait_for(self.disconnected, 5)
            except asyncio.TimeoutError:
                pass


class Slixmpp(Base):
    def setUp(self):
        super().setUp()
        if not HAVE_SLIXMPP:
            self.skipTest('python3-slixmpp is not installed')

    def run_clients(self, scenario):
        clients = []

        def new(*a, **kw):
            c = SlixClient(*a, **kw)
            clients.append(c)
            return c

        async def main():
            try:
                return await asyncio.wait_for(scenario(new), 60)
            finally:
                for c in clients:
                    await c.close()
        return asyncio.run(main())

    def test_register_change_remove(self):
        user = unique('slix')

        async def scenario(new):
            c = new('%s@localhost/a' % user, 'first-pw', create=True)
            self.assertTrue(await c.run(), 'slixmpp did not log in after registering')
            self.assertTrue(c.registered)
            self.assertEqual(self.rows(SRV, 'users', user), [(user,)])
            await c['xep_0077'].change_password('second-pw', jid='localhost')
            await c.close()
            old = new('%s@localhost/b' % user, 'first-pw')
            self.assertFalse(await old.run())
            d = new('%s@localhost/c' % user, 'second-pw')
            self.assertTrue(await d.run())
            await d['xep_0077'].cancel_registration(jid='localhost')
            await asyncio.wait_for(d.disconnected, 10)
            gone = new('%s@localhost/d' % user, 'second-pw')
            self.assertFalse(await gone.run())
        self.run_clients(scenario)
        self.assertEqual(self.rows(SRV, 'users', user), [])

    def test_register_conflict(self):
        async def scenario(new):
            c = new('alice@localhost/x', 'not-alices', create=True)
            self.assertFalse(await c.run())
            return c.registered
        self.assertEqual(self.run_clients(scenario), 'conflict')


if __name__ == '__main__':
    harness.unittest.main()
