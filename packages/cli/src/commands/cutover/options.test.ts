import { describe, expect, it } from "vitest";
import { optionProblems } from "./cutover.js";

const none = { appRole: [] as string[], rehearse: false, abort: false };

describe("the cutover's options", () => {
  it("accept a read-only fence with roles and a key, a wait fence with a key, a rehearsal alone, and --abort alone", () => {
    expect(optionProblems({ ...none, fence: "read-only", appRole: ["app"], privateKey: "k.pem" })).toEqual([]);
    expect(optionProblems({ ...none, fence: "wait", privateKey: "k.pem" })).toEqual([]);
    expect(optionProblems({ ...none, rehearse: true })).toEqual([]);
    expect(optionProblems({ ...none, abort: true })).toEqual([]);
  });

  it("name every option that is missing or does not belong", () => {
    expect(optionProblems({ ...none })).toEqual([
      "--fence read-only or --fence wait is needed (or --rehearse for a dry run)",
      "--private-key is needed: the certificate is signed with it (zeroloss certificate keygen makes one)",
    ]);
    expect(optionProblems({ ...none, fence: "read-only", privateKey: "k.pem" })).toEqual([
      "--fence read-only needs the application's login roles: --app-role ROLE (repeat for more)",
    ]);
    expect(optionProblems({ ...none, fence: "wait", appRole: ["app"], privateKey: "k.pem" })).toEqual([
      "--app-role is for --fence read-only; with --fence wait the operator stops the writers",
    ]);
    expect(optionProblems({ ...none, rehearse: true, fence: "wait", appRole: ["app"] })).toEqual([
      "--rehearse fences nothing: leave out --fence",
      "--rehearse fences nothing: leave out --app-role",
      "--app-role is for --fence read-only; with --fence wait the operator stops the writers",
    ]);
  });
});
