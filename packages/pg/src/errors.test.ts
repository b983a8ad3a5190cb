import { describe, expect, it } from "vitest";
import { pgError, serviceError } from "./errors.js";

describe("PostgreSQL errors as ZerolossErrors", () => {
  it.each([
    ["a connection that died while idle (server restart)", Object.assign(new Error("Client has encountered a connection error and is not queryable"), {}), "PG_UNREACHABLE", true],
    ["the server going down mid-query", Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }), "PG_UNREACHABLE", true],
    ["a refused connection", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }), "PG_UNREACHABLE", true],
    ["a wrong password", Object.assign(new Error("password authentication failed"), { code: "28P01" }), "PG_AUTH_FAILED", false],
    ["a syntax error", Object.assign(new Error("syntax error at or near"), { code: "42601" }), "PG_QUERY_FAILED", false],
  ])("%s", (_what, err, code, retriable) => {
    const e = pgError(err, "doing something");
    expect(e.code).toBe(code);
    expect(e.retriable).toBe(retriable);
  });

  it.each([
    ["a serialization failure", "40001", "PG_CONFLICT", true],
    ["a deadlock", "40P01", "PG_CONFLICT", true],
    ["a server starting up", "57P03", "PG_UNREACHABLE", true],
    ["no connection slot free", "53300", "PG_UNREACHABLE", true],
    ["a check constraint", "23514", "PG_QUERY_FAILED", false],
  ])("SQLSTATE of %s: a code that is retriable or not, never both", (_what, sqlstate, code, retriable) => {
    const e = pgError(Object.assign(new Error("failed"), { code: sqlstate }), "doing something");
    expect(e).toMatchObject({ code, retriable, details: { sqlstate } });
  });

  it("keeps a bug a bug: an error without a PostgreSQL code is UNEXPECTED and not retriable", () => {
    expect(serviceError(new TypeError("x is undefined"), "planning")).toMatchObject({ code: "UNEXPECTED", retriable: false });
  });
});
