"""Runs one of tlsfuzzer's certificate-based TLS 1.3 scripts against a
PSK-only server (used by scripts/tlsfuzzer.sh; not run by CI).

Every TLS 1.3 ClientHello the script builds gets a valid external PSK offer
(psk_dhe_ke, real binder) in place of any PSK it had, the ServerHello's
pre_shared_key is checked with the same PSK, and Certificate /
CertificateVerify expectations become no-ops. Nothing of tlsfuzzer is copied:
it is imported from the checkout given in TLSFUZZER_DIR.

Usage: TLSFUZZER_DIR=... PSK_HEX=... [PSK_IDEN=test] \
       python3 tlsfuzzer_psk_shim.py test_tls13_empty_alert -h 127.0.0.1 -p PORT
"""
import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.environ["TLSFUZZER_DIR"])
from tlslite.utils.compat import a2b_hex
from tlslite.constants import ExtensionType, PskKeyExchangeMode
from tlslite.extensions import PskKeyExchangeModesExtension
import tlsfuzzer.messages as M
import tlsfuzzer.expect as E
import tlsfuzzer.helpers as H

PSK = [(os.environ.get('PSK_IDEN', 'test').encode(), a2b_hex(os.environ['PSK_HEX']), 'sha256')]

class Skip(M.Command):
    def __init__(self, *a, **k):
        super().__init__()
    def process(self, state):
        pass

E.ExpectCertificate = Skip
E.ExpectCertificateVerify = Skip
E._srv_ext_handler[ExtensionType.pre_shared_key] = E.gen_srv_ext_handler_psk(PSK)

_orig_sh_init = E.ExpectServerHello.__init__
def sh_init(self, extensions=None, *a, **k):
    if (extensions is not None and ExtensionType.supported_versions in extensions
            and not isinstance(self, E.ExpectHelloRetryRequest)):
        extensions = dict(extensions)
        extensions.setdefault(ExtensionType.pre_shared_key, E.gen_srv_ext_handler_psk(PSK))
    _orig_sh_init(self, extensions, *a, **k)
E.ExpectServerHello.__init__ = sh_init

_orig_ch_init = M.ClientHelloGenerator.__init__
def ch_init(self, ciphers=None, extensions=None, *a, **k):
    if extensions is not None and ExtensionType.supported_versions in extensions:
        ext = OrderedDict(extensions)
        ext.pop(ExtensionType.pre_shared_key, None)
        if ExtensionType.psk_key_exchange_modes not in ext:
            ext[ExtensionType.psk_key_exchange_modes] = PskKeyExchangeModesExtension().create(
                [PskKeyExchangeMode.psk_dhe_ke])
        ext[ExtensionType.pre_shared_key] = H.psk_ext_gen(PSK)
        mods = list(k.pop('modifiers', None) or [])
        mods.append(H.psk_ext_updater(PSK))
        k['modifiers'] = mods
        extensions = ext
    _orig_ch_init(self, ciphers, extensions, *a, **k)
M.ClientHelloGenerator.__init__ = ch_init

mod = sys.argv[1]
sys.argv = [mod] + sys.argv[2:]
app = __import__('tlsfuzzer._apps.' + mod, fromlist=['tlsfuzzer._apps'])
app.main()
