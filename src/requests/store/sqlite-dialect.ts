/**
 * Kysely on better-sqlite3, with the two things Kysely's own SqliteDialect does not do:
 * transactions begin IMMEDIATE (the write lock is taken before the first read, so a
 * read-then-write can never fail half-way with SQLITE_BUSY_SNAPSHOT), and statements are
 * prepared once and reused (preparing costs more than running most of ours).
 *
 * better-sqlite3 is synchronous: a statement runs on the event loop. That is fine for our
 * sub-millisecond statements, but waiting for another process's lock must not happen there,
 * so the connection's busy_timeout is a few milliseconds and the store retries a busy write
 * asynchronously (see busy.ts).
 */
import type Database from "better-sqlite3";
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from "kysely";

type Statement = Database.Statement<unknown[], unknown>;

/** Distinct statements we run are few (tens); the cap only guards against a bug. */
const MAX_CACHED_STATEMENTS = 500;

class BetterSqliteConnection implements DatabaseConnection {
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly db: Database.Database) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const statement = this.prepare(compiledQuery.sql);
    const parameters = compiledQuery.parameters as unknown[];
    if (statement.reader) {
      return { rows: statement.all(...parameters) as R[] };
    }
    const { changes, lastInsertRowid } = statement.run(...parameters);
    return {
      numAffectedRows: BigInt(changes),
      insertId: BigInt(lastInsertRowid),
      rows: [],
    };
  }

  // biome-ignore lint/correctness/useYield: streaming is not used by the store; Kysely requires the method.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("The SQLite store does not stream queries.");
  }

  private prepare(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

/** SQLite has one connection: whoever holds it (a transaction, a query) holds it alone. */
class BetterSqliteDriver implements Driver {
  private readonly connection: BetterSqliteConnection;
  private holder: Promise<void> | undefined;
  private release: (() => void) | undefined;

  constructor(private readonly db: Database.Database) {
    this.connection = new BetterSqliteConnection(db);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    while (this.holder !== undefined) await this.holder;
    this.holder = new Promise((resolve) => {
      this.release = resolve;
    });
    return this.connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("commit"));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    // A failed BEGIN IMMEDIATE (busy) leaves no transaction to roll back.
    if (this.db.inTransaction) await connection.executeQuery(CompiledQuery.raw("rollback"));
  }

  async releaseConnection(): Promise<void> {
    const release = this.release;
    this.holder = undefined;
    this.release = undefined;
    release?.();
  }

  async destroy(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

export function betterSqliteDialect(db: Database.Database): Dialect {
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new BetterSqliteDriver(db),
    createIntrospector: (kysely) => new SqliteIntrospector(kysely),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
}
