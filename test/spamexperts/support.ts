/** What the client's test files share: the fake cluster's credentials, a client maker, failure(). */
import {
  createSpamExpertsClient,
  type SpamExpertsClientOptions,
} from "../../src/spamexperts/client.js";
import type { SpamExpertsError } from "../../src/spamexperts/errors.js";
import type { SpamExpertsClient } from "../../src/spamexperts/types.js";
import type { FakeSpamExperts } from "../helpers/fake-spamexperts.js";

export const USERNAME = "api-user";
export const PASSWORD = "s3cret-pa55word";

export interface ClientMaker {
  /** A client of the fake; by default its retries record their delay instead of waiting. */
  client(overrides?: Partial<SpamExpertsClientOptions>): SpamExpertsClient;
  /** The delays retries asked for, in order (cleared by closeAll). */
  readonly sleeps: number[];
  /** Closes every client made so far; for afterEach. */
  closeAll(): Promise<void>;
}

/** `api` is read when a client is made, so it may be started in beforeAll. */
export function clientMaker(
  api: () => FakeSpamExperts,
  defaults: Partial<SpamExpertsClientOptions> = {},
): ClientMaker {
  const made: SpamExpertsClient[] = [];
  const sleeps: number[] = [];
  return {
    client(overrides = {}) {
      const created = createSpamExpertsClient({
        baseUrl: api().url,
        username: USERNAME,
        password: PASSWORD,
        sleep: (ms) => {
          sleeps.push(ms);
          return Promise.resolve();
        },
        random: () => 0.5,
        ...defaults,
        ...overrides,
      });
      made.push(created);
      return created;
    },
    sleeps,
    async closeAll() {
      await Promise.all(made.splice(0).map((client) => client.close()));
      sleeps.length = 0;
    },
  };
}

/** The error a call failed with; fails the test if the call succeeded. */
export async function failure(promise: Promise<unknown>): Promise<SpamExpertsError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (outcome === undefined) throw new Error("expected the call to fail");
  return outcome as SpamExpertsError;
}
