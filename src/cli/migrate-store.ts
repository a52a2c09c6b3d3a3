/**
 * `dkim-bot migrate-store --to postgres://…`: moves a SQLite DATA_DIR onto PostgreSQL, for
 * going from one bot to several replicas. The bot must be stopped (the DATA_DIR lock says
 * so); the target must be empty; the encryption key stays the same, and the operator is told
 * how to give it to the replicas (never the key itself).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CodedError } from "../errors.js";
import { silentLogger } from "../requests/logger.js";
import {
  ENCRYPTION_KEY_FILE,
  type EncryptionKey,
  loadOrCreateEncryptionKey,
} from "../requests/sealing.js";
import { copyStore } from "../requests/store/copy-store.js";
import { acquireInstanceLock } from "../requests/store/instance-lock.js";
import { DATABASE_FILE, openStore } from "../requests/store/open-store.js";
import { describePostgresTarget } from "../requests/store/postgres-errors.js";

export interface MigrateStoreInput {
  to: string;
  dataDir: string;
  /** DKIM_ENCRYPTION_KEY when set; else the key file in DATA_DIR. */
  encryptionKey: EncryptionKey | undefined;
}

export async function migrateStore(input: MigrateStoreInput): Promise<string> {
  const target = input.to;
  if (!/^postgres(ql)?:\/\//.test(target)) {
    throw new CodedError(
      "INVALID_INPUT",
      "--to must be a PostgreSQL URL such as postgres://dkim:<password>@db.example.net:5432/dkim.",
    );
  }
  const databaseFile = join(input.dataDir, DATABASE_FILE);
  if (!existsSync(databaseFile)) {
    throw new CodedError(
      "CONFIG_INVALID",
      `There is no dkim-bot database in DATA_DIR ${input.dataDir} (no ${DATABASE_FILE}): set DATA_DIR or --data-dir to the bot's data directory.`,
    );
  }
  const keyFile = join(input.dataDir, ENCRYPTION_KEY_FILE);
  if (input.encryptionKey === undefined && !existsSync(keyFile)) {
    throw new CodedError(
      "CONFIG_INVALID",
      `Neither DKIM_ENCRYPTION_KEY nor ${keyFile} is there: set DKIM_ENCRYPTION_KEY to the key the database was sealed with.`,
    );
  }
  const lock = acquireInstanceLock(input.dataDir);
  try {
    const encryptionKey =
      input.encryptionKey ?? loadOrCreateEncryptionKey(input.dataDir, silentLogger);
    const owner = `migrate-store/${process.pid}`;
    const source = await openStore({ dataDir: input.dataDir, encryptionKey, owner });
    try {
      const destination = await openStore({
        databaseUrl: target,
        dataDir: input.dataDir,
        encryptionKey,
        owner,
      });
      try {
        const report = await copyStore(source, destination);
        const keyAdvice =
          input.encryptionKey === undefined
            ? `set DKIM_ENCRYPTION_KEY on every replica to the contents of ${keyFile}`
            : "keep DKIM_ENCRYPTION_KEY as it is, the same on every replica";
        return [
          `Copied ${report.requests} requests (${report.sealedKeys} with a sealed key, each opened once to check it) and ${report.events} events`,
          `from ${source.description} to PostgreSQL database ${describePostgresTarget(target)}; the counts match.`,
          `Next: start the bots with DATABASE_URL set to that database and ${keyAdvice}.`,
          `Keep ${databaseFile} as a backup until the replicas run well; the bot no longer uses it.`,
        ].join("\n");
      } finally {
        await destination.close();
      }
    } finally {
      await source.close();
    }
  } finally {
    lock.release();
  }
}
