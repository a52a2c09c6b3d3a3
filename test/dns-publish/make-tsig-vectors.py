#!/usr/bin/python3
"""Prints TSIG test vectors made by dnspython (an independent implementation of RFC 8945),
for test/dns-publish/tsig.test.ts: a signed UPDATE at a fixed time and id, and a signed
response to it. Run: /usr/bin/python3 test/dns-publish/make-tsig-vectors.py (python3-dnspython)."""
import base64
import json

import dns.message  # its time.time() is fixed below
import dns.name
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update

TIME = 1_800_000_000
out = {}
for algorithm, secret in (("hmac-sha256", b"\x01" * 32), ("hmac-sha512", b"\x02" * 64)):
    key = dns.tsig.Key("dkim-bot.", base64.b64encode(secret).decode(), algorithm)
    update = dns.update.UpdateMessage("example.test", id=4660)
    update.present("s1._domainkey.example.test", dns.rdatatype.TXT)
    update.add("s1._domainkey.example.test", 300, "TXT", '"v=DKIM1; k=rsa; " "p=MIIB"')
    update.use_tsig(key, fudge=300)
    # dnspython takes the time from time.time(); fix it so the vector is reproducible.
    dns.message.time.time = lambda: TIME
    request = update.to_wire()
    parsed = dns.message.from_wire(request, keyring={key.name: key})
    response = dns.message.make_response(parsed)
    response.set_rcode(dns.rcode.NOERROR)
    out[algorithm] = {
        "secret": base64.b64encode(secret).decode(),
        "time": TIME,
        "request": request.hex(),
        "requestMac": parsed.mac.hex(),
        "response": response.to_wire().hex(),
    }
print(json.dumps(out, indent=2))
