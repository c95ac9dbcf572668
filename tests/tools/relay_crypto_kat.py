#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Independent computation of the relay-crypto v1 and ntor frozen vectors in tests/unit/
# (test_relay_crypto.c, test_ntor.c): hashlib + the 'cryptography' package, no umbra code.
# Run from the repository root: python3 tests/tools/relay_crypto_kat.py
# Throwaway independent implementation of umbra relay crypto v1 (and an ntor check).
import hashlib, hmac, json
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives import serialization

def chacha(key, nonce12, ctr, data):
    c = Cipher(algorithms.ChaCha20(key, ctr.to_bytes(4, 'little') + nonce12), mode=None).encryptor()
    return c.update(data)

# RFC 8439 2.4.2 sanity
pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."
print("rfc8439", chacha(bytes(range(32)), bytes.fromhex("000000000000004a00000000"), 1, pt)[:16].hex())

class Dir:
    def __init__(s, dkey, key, nonce):
        s.dkey = dkey; s.r = bytes(32); s.key = key; s.nonce = nonce; s.c = 0
    def layer(s, body):
        n = bytearray(s.nonce)
        for i in range(8): n[4+i] ^= (s.c >> (8*i)) & 0xff
        s.c += 1
        return chacha(s.key, bytes(n), 0, body)
    def set_digest(s, body):
        b = bytearray(body); b[5:21] = bytes(16)
        s.r = hashlib.blake2b(s.r + bytes(b), key=s.dkey, digest_size=32).digest()
        b[5:21] = s.r[:16]
        return bytes(b)
    def check(s, body):
        if body[1:3] != b'\0\0': return False
        b = bytearray(body); b[5:21] = bytes(16)
        r2 = hashlib.blake2b(s.r + bytes(b), key=s.dkey, digest_size=32).digest()
        if r2[:16] == body[5:21]:
            s.r = r2; return True
        return False

class Hop:
    def __init__(s, km):
        assert len(km) == 184
        s.fwd = Dir(km[0:32], km[64:96], km[128:140])
        s.bwd = Dir(km[32:64], km[96:128], km[140:152])
        s.kh = km[152:184]

def body(cmd, sid, data):
    b = bytearray(509); b[0] = cmd; b[3:5] = sid.to_bytes(2, 'big'); b[21:23] = len(data).to_bytes(2, 'big'); b[23:23+len(data)] = data
    return bytes(b)

def client_originate(hops, target, b):
    b = hops[target-1].fwd.set_digest(b)
    for i in reversed(range(target)): b = hops[i].fwd.layer(b)
    return b

out = {}
kmA = bytes(range(184))
b1 = body(2, 1, b"hello"); b2 = body(2, 1, b"world!"); b3 = body(4, 1, b"")
c = Hop(kmA); r = Hop(kmA)
w1 = client_originate([c], 1, b1); w2 = client_originate([c], 1, b2)
out["A_fwd0"] = w1.hex(); out["A_fwd1"] = w2.hex()
# relay side check
x = r.fwd.layer(w1); assert r.fwd.check(x) and x[:5] == b1[:5]
x = r.fwd.layer(w2); assert r.fwd.check(x)
w3 = r.bwd.layer(r.bwd.set_digest(b3)); out["A_bwd0"] = w3.hex()
x = c.bwd.layer(w3); assert c.bwd.check(x)

kms = [bytes(((17*h + j) & 0xff) for j in range(184)) for h in (1, 2, 3)]
C = [Hop(k) for k in kms]; R = [Hop(k) for k in kms]
w = client_originate(C, 3, b1); out["B_fwd_to3"] = w.hex()
x = w
for i in range(3):
    x = R[i].fwd.layer(x); rec = R[i].fwd.check(x)
    assert rec == (i == 2)
w = R[1].bwd.layer(R[1].bwd.set_digest(b3)); w = R[0].bwd.layer(w); out["B_bwd_from2"] = w.hex()
x = C[0].bwd.layer(w); assert not C[0].bwd.check(x)
x = C[1].bwd.layer(x); assert C[1].bwd.check(x)

c = Hop(kmA); c.fwd.c = 0x0102030405060708
out["C_fwd_c0102030405060708"] = client_originate([c], 1, b1).hex()

# ntor check against the shared vector
v = json.load(open('../shared/vectors/ntor/ntor_v1.json'))["testvec"]
def H(x, t): return hmac.new(t, x, hashlib.sha256).digest()
P = b"ntor-curve25519-sha256-1"
def exp(s, p):
    return X25519PrivateKey.from_private_bytes(s).exchange(X25519PublicKey.from_public_bytes(p))
ID = bytes.fromhex(v["relay_identity_ID"]); b = bytes.fromhex(v["relay_ntor_secret_b"]); B = bytes.fromhex(v["relay_ntor_public_B"])
xs = bytes.fromhex(v["client_ephemeral_secret_x"]); X = bytes.fromhex(v["client_ephemeral_public_X"]); y = bytes.fromhex(v["server_ephemeral_secret_y"]); Y = bytes.fromhex(v["server_ephemeral_public_Y"])
si = exp(y, X) + exp(b, X) + ID + B + X + Y + P
ver = H(si, P + b":verify"); auth = H(ver + ID + B + Y + X + P + b"Server", P + b":mac")
assert (Y + auth).hex() == v["server_handshake"]
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes
km = HKDF(hashes.SHA256(), 72, P + b":key_extract", P + b":key_expand").derive(si)
assert km.hex() == v["key_material_72"]
km184 = HKDF(hashes.SHA256(), 184, P + b":key_extract", P + b":key_expand").derive(si)
out["ntor_km184"] = km184.hex()
# RFC 5869 case 1
okm = HKDF(hashes.SHA256(), 42, bytes.fromhex("000102030405060708090a0b0c"), bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")).derive(bytes([0x0b]*22))
out["rfc5869_1"] = okm.hex()
# keyed blake2b streaming check value: key 0..31, msg 0..199, 32 bytes
out["blake2b_keyed"] = hashlib.blake2b(bytes(range(200)), key=bytes(range(32)), digest_size=32).hexdigest()
for k, val in out.items(): print(k, val)
