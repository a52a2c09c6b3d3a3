import { beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { type DkimKeyPair, generateKeyPair } from "../../src/dkim/keys.js";
import {
  createDryRunClient,
  type DryRunClient,
  describeCall,
  describePrivateKey,
} from "../../src/spamexperts/dry-run.js";
import type { DomainInventory } from "../../src/spamexperts/types.js";

let key: DkimKeyPair;

beforeAll(async () => {
  key = await generateKeyPair(1024);
});

describe("createDryRunClient", () => {
  it("has no domain list: there is no cluster to list", () => {
    const client = createDryRunClient();
    expect("listDomains" in client).toBe(false);
    // And the compiler refuses it where the inventory needs a list.
    expectTypeOf<DryRunClient>().not.toExtend<DomainInventory>();
  });

  it("records the calls it would make, in order, with the certificate described", async () => {
    const client = createDryRunClient();
    expect(client.dryRun).toBe(true);

    const results = [
      await client.setDkimCertificate("example.com", "s202611", key.privateKeyPem),
      await client.setDkimSelector("example.com", "s202611", "example.com"),
    ];
    await client.close();

    expect(results).toEqual([
      { call: "api_set_dkim_certificate", text: "", attempts: 0, dryRun: true },
      { call: "api_set_dkim_selector", text: "", attempts: 0, dryRun: true },
    ]);
    expect(client.calls).toEqual([
      {
        call: "api_set_dkim_certificate",
        params: {
          domain: "example.com",
          certificate: `[redacted: 1024-bit RSA private key, ${key.fingerprint}]`,
          selector: "s202611",
        },
      },
      {
        call: "api_set_dkim_selector",
        params: { domain: "example.com", selector: "s202611", username: "example.com" },
      },
    ]);
    expect(JSON.stringify(client.calls)).not.toContain("PRIVATE KEY");
  });

  it("describes calls for people", () => {
    const client = createDryRunClient();
    void client.setDkimCertificate("example.com", "s202611", key.privateKeyPem);
    void client.setDkimSelector("example.com", "s202611", "mailer@example.com");
    expect(client.calls.map(({ call, params }) => describeCall(call, params))).toEqual([
      `api_set_dkim_certificate(domain=example.com, certificate=[redacted: 1024-bit RSA private key, ${key.fingerprint}], selector=s202611)`,
      "api_set_dkim_selector(domain=example.com, selector=s202611, username=mailer@example.com)",
    ]);
  });
});

describe("describeCall and describePrivateKey", () => {
  it("never shows a raw certificate, even when given one", () => {
    const text = describeCall("api_set_dkim_certificate", {
      domain: "example.com",
      certificate: key.privateKeyPem,
      selector: "s1",
    });
    expect(text).toBe(
      `api_set_dkim_certificate(domain=example.com, certificate=[redacted: 1024-bit RSA private key, ${key.fingerprint}], selector=s1)`,
    );
    const sneaky = `[redacted: x]\n${key.privateKeyPem}`;
    expect(describeCall("api_set_dkim_certificate", { certificate: sneaky })).not.toContain(
      "PRIVATE KEY",
    );
  });

  it("describes an unreadable key by its length only", () => {
    const garbage = "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----\n";
    expect(describePrivateKey(garbage)).toBe(
      `[redacted: unreadable private key, ${garbage.length} characters]`,
    );
  });
});
