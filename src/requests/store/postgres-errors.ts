/**
 * One sentence for each way connecting to PostgreSQL fails at start, naming the server but
 * never the password (a connection string may carry one).
 */

/** "dkim on db.example.net:5432" from a postgres:// URL, without credentials. */
export function describePostgresTarget(url: string): string {
  try {
    const parsed = new URL(url);
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "(default)";
    return `${database} on ${parsed.hostname || "localhost"}:${parsed.port || "5432"}`;
  } catch {
    return "(DATABASE_URL is not a URL)";
  }
}

export function describeDatabaseError(error: unknown, target: string): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const where = `PostgreSQL database ${target}`;
  switch (code) {
    case "28P01":
      return `${where} refused the password of DATABASE_URL's user: check the user and password in DATABASE_URL.`;
    case "28000":
      return `${where} does not let DATABASE_URL's user connect from this host (pg_hba.conf, or no such role): ask its administrator, or check the user in DATABASE_URL.`;
    case "3D000":
      return `${where} does not exist: create it (createdb) or fix the database name in DATABASE_URL.`;
    case "ECONNREFUSED":
      return `nothing answers at ${where.replace("PostgreSQL database ", "")}: is PostgreSQL running there, and are the host and port in DATABASE_URL right?`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `the host of DATABASE_URL (${target.split(" on ")[1] ?? target}) is not found: check its spelling and the DNS.`;
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `${where} cannot be reached (${code}): check the network path and any firewall.`;
    default:
      break;
  }
  if (/timeout/i.test(message)) {
    return `${where} did not answer within 5 s: check that it is up and reachable from the bot.`;
  }
  // Before the general TLS sentence, whose pattern ("ssl") this message matches too.
  if (/does not support SSL/i.test(message)) {
    return `${where} does not support TLS, but DATABASE_URL asks for it: remove sslmode or enable TLS on the server.`;
  }
  if (/ssl|certificate|self[- ]signed/i.test(message)) {
    return `${where}: the TLS connection failed (${message}). Check sslmode in DATABASE_URL; for a private CA, give its certificate with sslrootcert=<file> in DATABASE_URL or NODE_EXTRA_CA_CERTS.`;
  }
  return `${where} could not be used: ${message.replace(/postgres(ql)?:\/\/[^\s]*/gi, "DATABASE_URL")}`;
}
