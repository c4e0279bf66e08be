"""OAuth 2.0 bearer tokens end to end, against tokens minted by an independent implementation
(PyJWT on the cryptography package): `memberflow auth verify`, the Member API's 401/403/429
answers, the attack matrix, the embedded issuer's /oauth2/token, a Cognito-shaped external
issuer driving the whole pipeline (client credentials, JWKS over HTTP, refresh on 401), TLS
termination and slow clients — then a scan of every log for personal data."""
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from memberflow_e2e import BIN, Pipeline, assert_no_personal_data, drain_and_check, produce_generated, wait_for

ISS = "https://issuer.test/pool-1"
AUD = "memberflow-api"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
ROGUE_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # in no key set
ROGUE_EC = ec.generate_private_key(ec.SECP256R1())


def jwk(pub, algcls, kid, alg):
    d = json.loads(algcls.to_jwk(pub))
    d.update(kid=kid, use="sig", alg=alg)
    return d


JWKS = {"keys": [jwk(RSA_KEY.public_key(), RSAAlgorithm, "rsa1", "RS256"),
                 jwk(RSA_KEY.public_key(), RSAAlgorithm, "rsa1-pss", "PS256"),
                 jwk(EC_KEY.public_key(), ECAlgorithm, "ec1", "ES256"),
                 jwk(ED_KEY.public_key(), OKPAlgorithm, "ed1", "EdDSA")]}
SIGNERS = {"RS256": (RSA_KEY, "rsa1"), "PS256": (RSA_KEY, "rsa1-pss"), "ES256": (EC_KEY, "ec1"),
           "EdDSA": (ED_KEY, "ed1")}


def claims(**over):
    now = int(time.time())
    c = {"iss": ISS, "aud": AUD, "sub": "client-1", "client_id": "client-1", "iat": now, "nbf": now,
         "exp": now + 300, "scope": "member:read member:write"}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def mint(alg="RS256", headers=None, **over):
    key, kid = SIGNERS[alg]
    return jwt.encode(claims(**over), key, algorithm=alg, headers={"kid": kid, **(headers or {})})


def b64u(data):
    if isinstance(data, (dict, list)):
        data = json.dumps(data).encode()
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header, payload, sig=b""):
    return f"{b64u(header)}.{b64u(payload)}.{b64u(sig)}"


def rs256_with(key, header, payload):
    """A token signed by `key` with an arbitrary header (PyJWT would refuse some headers)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    si = f"{b64u(header)}.{b64u(payload)}"
    return si + "." + b64u(key.sign(si.encode(), padding.PKCS1v15(), hashes.SHA256()))


def hs256(secret, header, payload):
    si = f"{b64u(header)}.{b64u(payload)}"
    return si + "." + b64u(hmac.new(secret, si.encode(), hashlib.sha256).digest())


def tamper_payload(token, **over):
    h, p, s = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    body.update(over)
    return f"{h}.{b64u(body)}.{s}"


def flip_sig(token):
    h, p, s = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    raw[len(raw) // 2] ^= 1
    return f"{h}.{p}.{b64u(bytes(raw))}"


def attack_tokens():
    """(name, token): each must be refused. At least 25."""
    good = mint("RS256")
    h, p, s = good.split(".")
    pub_pem = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    rsa_n = base64.urlsafe_b64decode(JWKS["keys"][0]["n"] + "==")
    rogue_jwk = jwk(ROGUE_RSA.public_key(), RSAAlgorithm, "rogue", "RS256")
    now = int(time.time())
    c = claims()
    out = [
        ("alg none", forge({"alg": "none", "typ": "JWT"}, c)),
        ("alg None", forge({"alg": "None", "kid": "rsa1"}, c)),
        ("alg none with a signature", f"{b64u({'alg': 'none', 'kid': 'rsa1'})}.{p}.{s}"),
        ("alg missing", forge({"kid": "rsa1"}, c, b"x" * 256)),
        ("HS256 keyed with the RSA public key PEM", hs256(pub_pem, {"alg": "HS256", "kid": "rsa1"}, c)),
        ("HS256 keyed with the RSA modulus", hs256(rsa_n, {"alg": "HS256", "kid": "rsa1"}, c)),
        ("HS256 without kid keyed with the PEM", hs256(pub_pem, {"alg": "HS256"}, c)),
        ("signed by a key not in the set", jwt.encode(c, ROGUE_RSA, algorithm="RS256", headers={"kid": "rsa1"})),
        ("unknown kid", jwt.encode(c, ROGUE_RSA, algorithm="RS256", headers={"kid": "rogue"})),
        ("embedded jwk header", rs256_with(ROGUE_RSA, {"alg": "RS256", "jwk": rogue_jwk}, c)),
        ("embedded jwk header with a known kid", rs256_with(ROGUE_RSA, {"alg": "RS256", "kid": "rsa1", "jwk": rogue_jwk}, c)),
        ("jku header", rs256_with(ROGUE_RSA, {"alg": "RS256", "kid": "rsa1", "jku": "https://evil.test/jwks"}, c)),
        ("x5u header", rs256_with(ROGUE_RSA, {"alg": "RS256", "kid": "rsa1", "x5u": "https://evil.test/cert"}, c)),
        ("x5c header", rs256_with(RSA_KEY, {"alg": "RS256", "kid": "rsa1", "x5c": ["MIIB"]}, c)),
        ("crit header", rs256_with(RSA_KEY, {"alg": "RS256", "kid": "rsa1", "crit": ["exp"]}, c)),
        ("b64 false", rs256_with(RSA_KEY, {"alg": "RS256", "kid": "rsa1", "b64": False, "crit": ["b64"]}, c)),
        ("typ is not a JWT", rs256_with(RSA_KEY, {"alg": "RS256", "kid": "rsa1", "typ": "secevent+jwt"}, c)),
        ("RS256 token presented as PS256", f"{b64u({'alg': 'PS256', 'kid': 'rsa1-pss'})}.{p}.{s}"),
        ("ES256 key named by an RS256 token", rs256_with(RSA_KEY, {"alg": "RS256", "kid": "ec1"}, c)),
        ("ECDSA signature of zeros", forge({"alg": "ES256", "kid": "ec1"}, c, bytes(64))),
        ("ECDSA signature of the wrong length", forge({"alg": "ES256", "kid": "ec1"}, c, bytes(70))),
        ("ES256 by a key not in the set", jwt.encode(c, ROGUE_EC, algorithm="ES256", headers={"kid": "ec1"})),
        ("EdDSA signature flipped", flip_sig(mint("EdDSA"))),
        ("payload changed (scope added)", tamper_payload(mint("RS256", scope="member:read"), scope="member:read member:write")),
        ("payload changed (exp extended)", tamper_payload(good, exp=now + 86400 * 365)),
        ("signature flipped", flip_sig(good)),
        ("signature stripped", f"{h}.{p}."),
        ("expired", mint("RS256", exp=now - 3600, iat=now - 7200, nbf=now - 7200)),
        ("not yet valid", mint("RS256", nbf=now + 3600)),
        ("issued in the future", mint("RS256", iat=now + 3600)),
        ("no exp", mint("RS256", exp=None)),
        ("exp is a string", rs256_with(RSA_KEY, {"alg": "RS256", "kid": "rsa1"}, {**c, "exp": str(now + 300)})),
        ("wrong issuer", mint("RS256", iss="https://evil.test")),
        ("wrong audience", mint("RS256", aud="other-api")),
        ("no audience", mint("RS256", aud=None)),
        ("padding in base64url", f"{h}=.{p}.{s}"),
        ("standard base64 alphabet", f"{h}.{p}.{s.replace('-', '+').replace('_', '/')}" if ("-" in s or "_" in s)
         else f"{h}.{p}+.{s}"),
        ("non-canonical trailing bits", f"{h[:-1]}{chr(ord(h[-1]) + 1)}.{p}.{s}" if h[-1] in "AEIMQUYcgkosw048"
         else f"{h}.{p}.{s}A"),
        ("two parts", f"{h}.{p}"),
        ("four parts", f"{good}.{s}"),
        ("header not JSON", f"{b64u('not json')}.{p}.{s}"),
        ("header a JSON array", f"{b64u(['RS256'])}.{p}.{s}"),
        ("payload not JSON", rs256_with(RSA_KEY, {"alg": "RS256", "kid": "rsa1"}, "x")),
        ("whitespace inside", f"{h}.{p[:10]} {p[10:]}.{s}"),
        ("oversized", mint("RS256", pad="x" * 9000)),
    ]
    return out


@pytest.fixture(scope="module")
def keyset():
    with tempfile.TemporaryDirectory(prefix="memberflow-auth-") as tmp:
        path = os.path.join(tmp, "jwks.json")
        with open(path, "w") as f:
            json.dump(JWKS, f)
        yield tmp, path


def workdir(keyset, name):
    """A directory of the test's own under the module's temporary directory."""
    d = os.path.join(keyset[0], name)
    os.makedirs(d)
    return d


def verify(path, token, *extra):
    r = subprocess.run([BIN, "auth", "verify", "--jwks", path, "--issuer", ISS, "--audience", AUD, *extra],
                       input=token, capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout.strip()


def test_cli_accepts_pyjwt_tokens_and_refuses_their_tampered_copies(keyset):
    _, path = keyset
    for alg in ("RS256", "PS256", "ES256", "EdDSA"):
        token = mint(alg)
        assert verify(path, token) == (0, 'valid: sub="client-1" scopes="member:read member:write"'), alg
        assert verify(path, flip_sig(token))[0] == 1, alg
        assert verify(path, tamper_payload(token, sub="admin"))[0] == 1, alg
    code, out = verify(path, mint("RS256", exp=int(time.time()) - 3600))
    assert (code, out) == (1, "invalid: token has expired")
    assert verify(path, mint("RS256", exp=int(time.time()) - 3600), "--no-claims")[0] == 0


def test_attack_matrix_is_refused_by_the_cli(keyset):
    _, path = keyset
    attacks = attack_tokens()
    assert len(attacks) >= 25
    for name, token in attacks:
        code, out = verify(path, token)
        assert code == 1 and out.startswith("invalid: "), (name, out)
        # HS256 enabled does not make an RSA public key an HMAC secret.
        assert verify(path, token, "--alg", "RS256,PS256,ES256,EdDSA,HS256")[0] == 1, name


def api_pipeline(tmp, jwks_path, **api):
    cfg = {"cache_entries": 0}
    cfg.update(api)
    return Pipeline(tmp, auth={"jwks_file": jwks_path, "issuer": ISS, "audience": AUD,
                               "token_url": "http://127.0.0.1:9/unused"}, api=cfg)


def call(port, method, path, token=None, body=None, scheme="http", context=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(f"{scheme}://127.0.0.1:{port}{path}", method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_api_scopes_rfc6750_errors_protected_metrics_and_rate_limits(keyset):
    d = workdir(keyset, "api")
    path = keyset[1]
    p = api_pipeline(d, path, open_endpoints="healthz,readyz", rate_per_client=5, rate_burst=5)
    try:
        p.start("--stages", "api")
        for alg in ("RS256", "PS256", "ES256", "EdDSA"):
            assert call(p.port, "GET", "/member/M404", mint(alg, sub=f"c-{alg}", client_id=None))[0] == 404, alg
        # scp (an array) counts as scope.
        assert call(p.port, "GET", "/member/M404", mint("ES256", scope=None, scp=["member:read"], client_id="scp"))[0] == 404
        st, h, _ = call(p.port, "GET", "/member/M1", mint("RS256", scope="member:write", client_id="w"))
        assert st == 403 and 'error="insufficient_scope"' in h["WWW-Authenticate"], h
        st, h, _ = call(p.port, "PUT", "/member/M1", mint("RS256", scope="member:read", client_id="r"), {"x": 1})
        assert st == 403 and 'scope="member:write"' in h["WWW-Authenticate"]
        st, h, _ = call(p.port, "GET", "/member/M1")
        assert st == 401 and h["WWW-Authenticate"] == 'Bearer realm="memberflow"'
        # Protected operations endpoints: metrics needs a token (any scope), health does not.
        assert call(p.port, "GET", "/healthz")[0] == 200
        assert call(p.port, "GET", "/metrics")[0] == 401
        assert call(p.port, "GET", "/metrics", mint("RS256", scope="", client_id="ops"))[0] == 200
        # Every attack token: 401 invalid_token, and the reason never echoes the token.
        for name, token in attack_tokens():
            if " " in token:
                continue  # not sendable in a header
            st, h, body = call(p.port, "GET", "/member/M1", token)
            assert st == 401, (name, st)
            assert 'error="invalid_token"' in h.get("WWW-Authenticate", ""), name
            assert token.split(".")[-1][:20] not in body.decode() or not token.split(".")[-1], name
        # Per client: five in a burst, then 429 with Retry-After; another client is not affected.
        t = mint("RS256", client_id="busy")
        codes = [call(p.port, "GET", "/member/M404", t)[0] for _ in range(8)]
        assert codes[:5] == [404] * 5 and 429 in codes[5:], codes
        st, h, _ = call(p.port, "GET", "/member/M404", t)
        assert st == 429 and int(h["Retry-After"]) >= 1
        assert call(p.port, "GET", "/member/M404", mint("RS256", client_id="calm"))[0] == 404
    finally:
        p.stop_all()


def test_embedded_issuer_token_endpoint(keyset):
    d = workdir(keyset, "embedded")
    p = Pipeline(d)
    try:
        p.start("--stages", "api")
        secret = open(os.path.join(d, "var", "secrets", "sync-client-secret")).read()
        assert oct(os.stat(os.path.join(d, "var", "secrets", "sync-client-secret")).st_mode & 0o777) == "0o600"

        def token_request(user, password, form):
            auth = base64.b64encode(f"{user}:{password}".encode()).decode()
            req = urllib.request.Request(f"http://127.0.0.1:{p.port}/oauth2/token", method="POST",
                                         data=form.encode(),
                                         headers={"Authorization": f"Basic {auth}",
                                                  "Content-Type": "application/x-www-form-urlencoded"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.status, dict(r.headers), json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, dict(e.headers), json.loads(e.read())

        st, h, body = token_request("memberflow-sync", secret, "grant_type=client_credentials&scope=member%3Aread")
        assert st == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 900, body
        assert h["Cache-Control"] == "no-store"
        assert call(p.port, "GET", "/member/M404", body["access_token"])[0] == 404
        assert call(p.port, "PUT", "/member/M404", body["access_token"], {"x": 1})[0] == 403  # read only
        st, h, body2 = token_request("memberflow-sync", secret + "x", "grant_type=client_credentials")
        assert st == 401 and body2["error"] == "invalid_client" and h["WWW-Authenticate"].startswith("Basic")
        # Credentials in the body (the console's login form): a 400, no challenge a browser prompts for.
        req = urllib.request.Request(f"http://127.0.0.1:{p.port}/oauth2/token", method="POST",
                                     data=b"grant_type=client_credentials&client_id=memberflow-sync&client_secret=x",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            urllib.request.urlopen(req, timeout=10)
            assert False, "a wrong secret in the body was accepted"
        except urllib.error.HTTPError as e:
            assert e.code == 400 and json.loads(e.read())["error"] == "invalid_client"
            assert "WWW-Authenticate" not in e.headers
        assert token_request("someone", secret, "grant_type=client_credentials")[0] == 401
        assert token_request("memberflow-sync", secret, "grant_type=password")[2]["error"] == "unsupported_grant_type"
        assert token_request("memberflow-sync", secret, "grant_type=client_credentials&scope=admin")[2]["error"] == "invalid_scope"
        # The same verifier as for any issuer: the published key set verifies the token.
        st, _, jwks = call(p.port, "GET", "/.well-known/jwks.json")
        jwks_path = os.path.join(d, "local-jwks.json")
        with open(jwks_path, "wb") as f:
            f.write(jwks)
        r = subprocess.run([BIN, "auth", "verify", "--jwks", jwks_path, "--issuer", "memberflow-local", "--audience",
                            "memberflow-api"], input=body["access_token"], capture_output=True, text=True)
        assert r.returncode == 0 and 'sub="memberflow-sync"' in r.stdout, r.stdout
        assert jwt.decode(body["access_token"], jwt.PyJWK(json.loads(jwks)["keys"][0]).key, algorithms=["ES256"],
                          audience="memberflow-api", issuer="memberflow-local")["client_id"] == "memberflow-sync"
    finally:
        p.stop_all()


class Issuer:
    """A Cognito-shaped issuer: /oauth2/token (client credentials, HTTP Basic) and a JWKS.
    Its first token is signed by a key that is not in its key set (a rotated-out key), so the
    API answers 401 and the client must refresh once."""

    def __init__(self, secret):
        self.calls = 0
        self.jwks_calls = 0
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/pool-1/.well-known/jwks.json":
                    self.send_error(404)
                    return
                with outer.lock:
                    outer.jwks_calls += 1
                body = json.dumps(JWKS).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=3600")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                form = self.rfile.read(int(self.headers["Content-Length"])).decode()
                expected = "Basic " + base64.b64encode(f"memberflow-sync:{secret}".encode()).decode()
                if self.headers.get("Authorization") != expected or "grant_type=client_credentials" not in form:
                    self.send_response(401)
                    self.end_headers()
                    return
                with outer.lock:
                    outer.calls += 1
                    first = outer.calls == 1
                now = int(time.time())
                c = {"iss": ISS, "aud": AUD, "sub": "memberflow-sync", "client_id": "memberflow-sync",
                     "scope": "member:read member:write", "iat": now, "exp": now + 3600}
                key, kid = (ROGUE_RSA, "rsa1") if first else (RSA_KEY, "rsa1")
                body = json.dumps({"access_token": jwt.encode(c, key, algorithm="RS256", headers={"kid": kid}),
                                   "expires_in": 3600, "token_type": "Bearer"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_pipeline_with_an_external_issuer_and_no_personal_data_in_logs(keyset):
    d = workdir(keyset, "external")
    secret = base64.urlsafe_b64encode(os.urandom(24)).decode()
    os.environ["MEMBERFLOW_SECRET_SYNC_CLIENT_SECRET"] = secret
    issuer = Issuer(secret)
    base = f"http://127.0.0.1:{issuer.port}"
    p = Pipeline(d, auth={"jwks_url": f"{base}/pool-1/.well-known/jwks.json", "issuer": ISS, "audience": AUD,
                          "token_url": f"{base}/oauth2/token"})
    p.token = lambda *scopes: mint("RS256", scope=" ".join(scopes), client_id="oracle")  # the oracle reads
    try:
        lines = produce_generated(p, 41, 800, 80)
        p.start()
        drain_and_check(p, lines, 180)
        assert p.dlq("changes") == [] or all("api_" not in m["attributes"].get("reason", "") for m in p.dlq("changes"))
        # One token, refused (rotated-out key), refreshed once; tokens are cached, not fetched per call.
        assert 2 <= issuer.calls <= 4, issuer.calls
        assert 1 <= issuer.jwks_calls <= 3, issuer.jwks_calls
        for proc in p.procs:
            assert p.stop(proc) == 0
    finally:
        p.stop_all()
        issuer.close()
        del os.environ["MEMBERFLOW_SECRET_SYNC_CLIENT_SECRET"]
    # No personal data in any log of the run (names, birth dates, emails, phones, streets).
    text = "".join(open(f).read() for f in p.logs)
    assert "stage stopped" in text  # the logs were written
    assert_no_personal_data(text, lines)
    assert secret not in text


def test_tls_termination_and_slow_clients(keyset):
    d = workdir(keyset, "tls")
    path = keyset[1]
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    p = api_pipeline(d, path, tls_cert=cert, tls_key=key, idle_timeout_seconds=2, max_header_bytes=4096)
    try:
        proc = p.spawn("--stages", "api")
        ctx = ssl.create_default_context(cafile=cert)

        def ready():
            try:
                return call(p.port, "GET", "/readyz", scheme="https", context=ctx)[0] == 200
            except (urllib.error.URLError, OSError):
                return False
        wait_for(lambda: ready() or proc.poll() is not None, 30, "the HTTPS API")
        assert proc.poll() is None, open(p.logs[-1]).read()
        assert call(p.port, "GET", "/member/M404", mint("ES256"), scheme="https", context=ctx)[0] == 404
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            call(p.port, "GET", "/healthz")  # plain HTTP on the TLS port gets nothing
        # A client trickling its headers is cut off at the request deadline (2 s).
        with socket.create_connection(("127.0.0.1", p.port)) as s:
            t0 = time.monotonic()
            s.settimeout(10)
            closed = False
            try:
                for ch in b"\x16\x03\x01\x00":  # a TLS record header, one byte at a time
                    s.sendall(bytes([ch]))
                    time.sleep(0.5)  # the slow client itself
                while not closed:
                    closed = s.recv(1024) == b""
            except (ConnectionResetError, BrokenPipeError):
                closed = True
            assert closed and time.monotonic() - t0 < 8
        # Headers beyond the limit: 431.
        raw = ctx.wrap_socket(socket.create_connection(("127.0.0.1", p.port)), server_hostname="127.0.0.1")
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 431")
        raw.close()
    finally:
        p.stop_all()


def test_schemathesis_finds_no_server_errors_and_no_responses_that_break_the_document(keyset):
    """Property-based requests generated from /openapi.json with a valid token (member:read and
    member:write): every response is documented, has its documented content type and headers,
    matches its schema, and none is a 5xx."""
    d = workdir(keyset, "schemathesis")
    p = Pipeline(d)
    try:
        p.start("--stages", "api")
        token = p.token("member:read", "member:write")
        st = [os.path.join(os.path.dirname(os.path.realpath(__import__("sys").executable)), "schemathesis")]
        if not os.path.exists(st[0]):
            st = [__import__("sys").executable, "-m", "schemathesis.cli"]
        r = subprocess.run(st + ["run", f"http://127.0.0.1:{p.port}/openapi.json", "-H", f"Authorization: Bearer {token}",
                                 "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                                 "response_headers_conformance,response_schema_conformance",
                                 # The coverage phase of 4.32 fails inside hypothesis on this document
                                 # (a lambda-source cache error), not on the API.
                                 "--phases", "examples,fuzzing,stateful", "--max-examples", "60", "-w", "2",
                                 "--seed", "20261125"],
                           capture_output=True, text=True, timeout=900, cwd=d,
                           env=dict(os.environ, SCHEMATHESIS_TELEMETRY="false", NO_COLOR="1"))
        out = r.stdout + r.stderr
        assert r.returncode == 0, out[-4000:]
        m = re.search(r"(\d+) generated, (\d+) passed", out)
        assert m and int(m.group(1)) > 200 and m.group(1) == m.group(2), out[-2000:]
        assert '"level":"error"' not in open(p.logs[-1]).read()
    finally:
        p.stop_all()
