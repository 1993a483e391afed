// Interop driver: the official @huggingface/hub client (npm, pinned in tests/node) against the
// local hub. Prints one "ok - …" / "not ok - …" line per check; js-client.sh numbers them.
//
// Environment: HUB_URL (http://127.0.0.1:PORT), HF_TOKEN (write token), HF_READ_TOKEN (read-only
// token), MODE ("noxet": useXet false; "xet": the client's default, which offers xet), OUT_DIR
// (where expect.tsv goes: rev, path, sha256 and size of every file, for the curl cross-check).
// The hub must run with --multipart-threshold 13MB: the 12 MiB file then takes the basic
// transfer and the 16 MiB one the multipart transfer.
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as hub from "../node/node_modules/@huggingface/hub/dist/index.mjs";

const HUB_URL = process.env.HUB_URL;
const TOKEN = process.env.HF_TOKEN;
const READ_TOKEN = process.env.HF_READ_TOKEN;
const MODE = process.env.MODE;
const OUT_DIR = process.env.OUT_DIR;
if (!HUB_URL || !TOKEN || !READ_TOKEN || !OUT_DIR || (MODE !== "noxet" && MODE !== "xet")) {
	console.error("js-client.mjs: set HUB_URL, HF_TOKEN, HF_READ_TOKEN, OUT_DIR and MODE=noxet|xet");
	process.exit(2);
}
// useXet: false is what hfsync users are told to pass; undefined is the client's default (true).
const XET = MODE === "noxet" ? { useXet: false } : {};
const MiB = 1024 * 1024;

// ---- TAP lines
function check(cond, name, ...why) {
	console.log(`${cond ? "ok" : "not ok"} - ${name}`);
	if (!cond) for (const w of why) for (const l of String(w).split("\n")) console.log(`# ${l}`);
	return cond;
}
function eq(got, want, name) {
	const g = JSON.stringify(got), w = JSON.stringify(want);
	return check(g === w, name, `got:  ${g}`, `want: ${w}`);
}
// step NAME FN: runs FN; an exception is a failed check named NAME (later steps still run).
async function step(name, fn) {
	try {
		return await fn();
	} catch (e) {
		check(false, `${name}: threw`, e?.stack ?? e, e?.data ? JSON.stringify(e.data) : "");
		return undefined;
	}
}
// rejects FN STATUS NAME: FN must fail with a HubApiError of that status.
async function rejects(fn, status, name) {
	try {
		await fn();
		return check(false, name, `succeeded, want an error with status ${status}`);
	} catch (e) {
		return check(e instanceof hub.HubApiError && e.statusCode === status, name,
			`got: ${e?.constructor?.name} status=${e?.statusCode} ${e?.message}`);
	}
}

// ---- every request the client makes, with its answer (the LFS batch bodies parsed)
const requests = [];
async function recordingFetch(input, init = {}) {
	const url = typeof input === "string" ? input : (input.url ?? String(input));
	const r = { method: (init.method ?? "GET").toUpperCase(), url: new URL(url),
		body: typeof init.body === "string" ? init.body : undefined };
	const res = await fetch(input, init);
	r.status = res.status;
	r.headers = res.headers;
	if (r.url.pathname.endsWith("/info/lfs/objects/batch") && res.ok)
		r.json = await res.clone().json();
	requests.push(r);
	return res;
}
function since(mark) { return requests.slice(mark); }
const isBatch = (r) => r.url.pathname.endsWith("/info/lfs/objects/batch");
// transfers REQS: the LFS transfer requests among REQS, told apart by the URLs the batch
// answers handed out (a basic href, multipart part URLs, a multipart completion href).
function transfers(reqs) {
	const singles = new Set(), parts = new Set(), completions = new Set();
	const norm = (u) => new URL(u).href;
	for (const b of reqs.filter(isBatch)) {
		for (const o of b.json?.objects ?? []) {
			const up = o.actions?.upload;
			if (!up) continue;
			if (!up.header?.chunk_size) { singles.add(norm(up.href)); continue; }
			completions.add(norm(up.href));
			for (const [k, v] of Object.entries(up.header)) if (/^[0-9]+$/.test(k)) parts.add(norm(v));
		}
	}
	return {
		singles: reqs.filter((r) => r.method === "PUT" && singles.has(r.url.href)),
		parts: reqs.filter((r) => r.method === "PUT" && parts.has(r.url.href)),
		completions: reqs.filter((r) => r.method === "POST" && completions.has(r.url.href)),
	};
}

const common = { hubUrl: HUB_URL, accessToken: TOKEN, fetch: recordingFetch };
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");
const gitBlobSha1 = (buf) => createHash("sha1").update(`blob ${buf.length}\0`).update(buf).digest("hex");
async function blobBytes(blob) { return Buffer.from(await blob.arrayBuffer()); }
async function listAll(params) {
	const out = [];
	for await (const e of hub.listFiles({ ...common, ...params })) out.push(e);
	return out;
}
const expectRows = [];

// ---- the scenario
const repo = `user/js-${MODE}`;
const repoUrl = `${HUB_URL}/${repo}`;

await step("whoAmI", async () => {
	const me = await hub.whoAmI(common);
	eq(me.name, "user", "whoAmI names the token's user");
	eq(me.auth?.accessToken?.role, "write", "whoAmI: the --token token has the write role");
	const ro = await hub.whoAmI({ ...common, accessToken: READ_TOKEN });
	eq([ro.name, ro.auth?.accessToken?.role], ["reader", "read"], "whoAmI with a read token: reader, role read");
});

await step("createRepo", async () => {
	eq(await hub.repoExists({ ...common, repo }), false, "repoExists is false before createRepo");
	const created = await hub.createRepo({ ...common, repo });
	eq(created.repoUrl, repoUrl, "createRepo returns the repo URL on this hub");
	eq(await hub.repoExists({ ...common, repo }), true, "repoExists is true after createRepo");
	await rejects(() => hub.createRepo({ ...common, repo }), 409, "createRepo of an existing repo fails with 409");
	const info = await hub.modelInfo({ ...common, name: repo });
	eq(info.name, repo, "modelInfo names the repo");
	eq(info.private, false, "modelInfo: the repo is public");
});

// Commit A: small regular files, a small LFS file (*.bin rule of the default .gitattributes),
// a 12 MiB file (LFS by size, basic transfer) and a 16 MiB file (multipart above 13 MB).
const files = new Map([
	["hello.txt", Buffer.from("hello from the js client\n")],
	["empty.txt", Buffer.alloc(0)],
	["dir/sub/data.json", Buffer.from(JSON.stringify({ mode: MODE, n: [1, 2, 3] }) + "\n")],
	["docs/read me ü.md", Buffer.from("# a path with a space and a non-ASCII letter\n")],
	["small.bin", randomBytes(1024)],
	["weights/big.dat", randomBytes(12 * MiB)],
	["weights/multi.dat", randomBytes(16 * MiB)],
]);
const lfsPaths = new Set(["small.bin", "weights/big.dat", "weights/multi.dat"]);
let commitA;
await step("uploadFiles (small, 12 MiB basic, 16 MiB multipart)", async () => {
	const mark = requests.length;
	const out = await hub.uploadFiles({
		...common, ...XET, repo, commitTitle: "small, large and multipart",
		files: [...files].map(([path, buf]) => ({ path, content: new Blob([buf]) })),
	});
	commitA = out?.commit?.oid;
	check(/^[0-9a-f]{40}$/.test(commitA ?? ""), "uploadFiles returns a 40-hex commit oid", JSON.stringify(out));
	eq(out?.commit?.url, `${repoUrl}/commit/${commitA}`, "commitUrl is on this hub");
	const reqs = since(mark);
	const batches = reqs.filter(isBatch);
	eq(batches.length, 1, "one LFS batch call for the three LFS files");
	const offered = JSON.parse(batches[0]?.body ?? "{}").transfers ?? [];
	if (MODE === "xet")
		check(offered.includes("xet"), "by default the client offers xet", JSON.stringify(offered));
	else
		check(!offered.includes("xet"), "useXet: false offers no xet", JSON.stringify(offered));
	check(["basic", "multipart"].includes(batches[0]?.json?.transfer), "the hub answers basic/multipart, never xet",
		JSON.stringify(batches[0]?.json?.transfer));
	const objs = batches[0]?.json?.objects ?? [];
	eq(objs.map((o) => o.size).sort((a, b) => a - b), [1024, 12 * MiB, 16 * MiB], "the batch answers the three objects");
	const big = objs.find((o) => o.size === 12 * MiB), multi = objs.find((o) => o.size === 16 * MiB);
	check(big?.actions?.upload && !big.actions.upload.header?.chunk_size, "the 12 MiB object gets a basic upload action");
	eq(Number(multi?.actions?.upload?.header?.chunk_size) > 0, true, "the 16 MiB object gets a multipart action (chunk_size)");
	const chunk = Number(multi?.actions?.upload?.header?.chunk_size);
	const sent = transfers(reqs);
	eq(sent.singles.map((r) => r.status), [200, 200], "two single PUTs (1 KiB and 12 MiB), both 200");
	eq(sent.parts.length, Math.ceil(16 * MiB / chunk), "one PUT per part of the 16 MiB object");
	check(sent.parts.every((r) => r.status === 200 && r.headers.get("ETag")), "every part PUT answers 200 with an ETag");
	eq(sent.completions.map((r) => r.status), [200], "the multipart completion POST answers 200");
});
for (const [path, buf] of files)
	expectRows.push(["main", path, sha256(buf), buf.length]);

// Commit B: 1,100 tiny files in one folder, so a recursive listing needs two pages.
const MANY = 1100;
await step("uploadFiles (1,100 tiny files in one commit)", async () => {
	const many = Array.from({ length: MANY }, (_, i) => ({
		path: `many/f${String(i).padStart(4, "0")}.txt`, content: new Blob([`file ${i}\n`]),
	}));
	const out = await hub.uploadFiles({ ...common, ...XET, repo, commitTitle: "1,100 files", files: many });
	check(/^[0-9a-f]{40}$/.test(out?.commit?.oid ?? ""), "a commit of 1,100 files lands");
});
expectRows.push(["main", "many/f1099.txt", sha256(Buffer.from("file 1099\n")), 10]);

await step("listFiles", async () => {
	const mark = requests.length;
	const all = await listAll({ repo, recursive: true });
	const trees = since(mark).filter((r) => r.url.pathname.includes("/tree/"));
	check(trees.length >= 2, "a recursive listing of 1,100+ files is paginated (Link: rel=next followed)",
		`tree requests: ${trees.length}`);
	const paths = all.map((e) => e.path);
	eq(new Set(paths).size, paths.length, "no entry is listed twice across pages");
	const fileEntries = all.filter((e) => e.type === "file");
	eq(fileEntries.filter((e) => e.path.startsWith("many/")).length, MANY, "all 1,100 tiny files are listed");
	const want = [...files.keys(), ".gitattributes"].sort();
	eq(fileEntries.filter((e) => !e.path.startsWith("many/")).map((e) => e.path).sort(), want,
		"the other files (and the default .gitattributes) are listed");
	eq(all.filter((e) => e.type === "directory").map((e) => e.path).sort(),
		["dir", "dir/sub", "docs", "many", "weights"], "directories are listed");
	let good = true;
	for (const e of fileEntries) {
		const buf = files.get(e.path);
		if (!buf) continue;
		const lfs = lfsPaths.has(e.path);
		const ok = e.size === buf.length && (lfs
			? e.lfs?.oid === sha256(buf) && e.lfs?.size === buf.length && e.lfs?.pointerSize > 0
			: !e.lfs && e.oid === gitBlobSha1(buf));
		if (!ok) good = check(false, `listFiles entry of ${e.path} has the right size, oid and lfs`, JSON.stringify(e));
	}
	if (good) check(true, "listFiles entries carry the real size, the blob oid, and lfs {oid: sha256, size, pointerSize}");
	const top = await listAll({ repo });
	eq(top.map((e) => e.path).sort(),
		[".gitattributes", "dir", "docs", "empty.txt", "hello.txt", "many", "small.bin", "weights"],
		"a non-recursive listing shows the top level only");
	const sub = await listAll({ repo, path: "dir/sub" });
	eq(sub.map((e) => e.path), ["dir/sub/data.json"], "listFiles of a sub folder (path sent raw)");
});

await step("pathsInfo", async () => {
	const info = await hub.pathsInfo({ ...common, repo,
		paths: ["hello.txt", "weights/big.dat", "weights/multi.dat", "dir", "no/such/file"] });
	const by = Object.fromEntries(info.map((i) => [i.path, i]));
	eq(Object.keys(by).sort(), ["dir", "hello.txt", "weights/big.dat", "weights/multi.dat"],
		"pathsInfo answers the existing paths and leaves the missing one out");
	const hello = files.get("hello.txt");
	eq([by["hello.txt"]?.type, by["hello.txt"]?.size, by["hello.txt"]?.oid, by["hello.txt"]?.lfs],
		["file", hello.length, gitBlobSha1(hello), undefined], "pathsInfo of a regular file");
	for (const p of ["weights/big.dat", "weights/multi.dat"]) {
		const buf = files.get(p);
		eq([by[p]?.size, by[p]?.lfs?.oid, by[p]?.lfs?.size], [buf.length, sha256(buf), buf.length],
			`pathsInfo of the LFS file ${p}`);
	}
	eq(by.dir?.type, "directory", "pathsInfo of a folder says directory");
});

// empty.txt is left to the curl check: the client sizes a file from the Content-Range of a
// "Range: bytes=0-0" probe, which no server can give for 0 bytes (200 without it, or 416).
for (const [path, buf] of files) {
	if (buf.length === 0) continue;
	await step(`downloadFile ${path}`, async () => {
		const blob = await hub.downloadFile({ ...common, repo, path });
		const got = blob ? await blobBytes(blob) : null;
		check(got !== null && Buffer.compare(got, buf) === 0, `downloadFile ${path}: the bytes match`,
			got === null ? "got null (not found)" : `got ${got.length} bytes, sha256 ${sha256(got)}`);
	});
}
await step("fileDownloadInfo", async () => {
	const info = await hub.fileDownloadInfo({ ...common, repo, path: "weights/big.dat" });
	eq([info?.size, info?.etag], [12 * MiB, `"${sha256(files.get("weights/big.dat"))}"`],
		"fileDownloadInfo of an LFS file: size and the sha256 ETag");
	eq(await hub.downloadFile({ ...common, repo, path: "no/such/file.txt" }), null,
		"downloadFile of a missing path returns null (404 EntryNotFound)");
});

await step("fileExists", async () => {
	eq(await hub.fileExists({ ...common, repo, path: "weights/big.dat" }), true, "fileExists (HEAD /raw/) of an LFS file is true");
	eq(await hub.fileExists({ ...common, repo, path: "hello.txt" }), true, "fileExists of a regular file is true");
	eq(await hub.fileExists({ ...common, repo, path: "no/such/file" }), false, "fileExists of a missing file is false");
});

await step("downloadFile raw: true of an LFS file (/raw/)", async () => {
	const small = files.get("small.bin");
	const raw = await hub.downloadFile({ ...common, repo, path: "small.bin", raw: true });
	eq(raw ? (await blobBytes(raw)).toString() : null,
		`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(small)}\nsize ${small.length}\n`,
		"downloadFile raw: true of an LFS file gives its pointer (/raw/)");
});

await step("listFiles expand", async () => {
	const entries = await listAll({ repo, path: "weights", expand: true });
	check(entries.length === 2 && entries.every((e) => e.lastCommit?.id === commitA && e.lastCommit?.title === "small, large and multipart"),
		"listFiles with expand gives each file its lastCommit (id and title)", JSON.stringify(entries.map((e) => e.lastCommit)));
});

await step("known LFS content", async () => {
	const mark = requests.length;
	await hub.uploadFiles({ ...common, ...XET, repo, commitTitle: "same bytes, new path",
		files: [{ path: "copy/multi-again.dat", content: new Blob([files.get("weights/multi.dat")]) }] });
	const reqs = since(mark);
	const obj = reqs.find(isBatch)?.json?.objects?.[0];
	check(obj && !obj.actions && !obj.error, "the batch answers no actions for an object the hub already has", JSON.stringify(obj));
	eq(reqs.filter((r) => r.method === "PUT").length, 0, "... so the client uploads nothing");
	const info = await hub.pathsInfo({ ...common, repo, paths: ["copy/multi-again.dat"] });
	eq(info[0]?.lfs?.oid, sha256(files.get("weights/multi.dat")), "... and the commit still lands with that LFS oid");
});

await step(".gitattributes in the commit", async () => {
	// The client sends a root .gitattributes of the commit as preupload's gitAttributes, so the
	// hub must decide LFS from the new rules, not the ones at the revision.
	const base = await blobBytes(await hub.downloadFile({ ...common, repo, path: ".gitattributes" }));
	const attrs = base.toString() + "*.notes filter=lfs diff=lfs merge=lfs -text\n";
	const mark = requests.length;
	await hub.uploadFiles({ ...common, ...XET, repo, commitTitle: "a new LFS rule",
		files: [{ path: ".gitattributes", content: new Blob([attrs]) }, { path: "a.notes", content: new Blob(["plain text\n"]) }] });
	const pre = since(mark).find((r) => r.url.pathname.includes("/preupload/"));
	eq(JSON.parse(pre?.body ?? "{}").gitAttributes, attrs, "the client sends the new .gitattributes with preupload");
	const info = await hub.pathsInfo({ ...common, repo, paths: ["a.notes"] });
	eq(info[0]?.lfs?.oid, sha256(Buffer.from("plain text\n")), "a small text file matching the new rule is stored in LFS");
});

await step("branches and history", async () => {
	await hub.createBranch({ ...common, repo, branch: "dev" });
	await hub.uploadFiles({ ...common, ...XET, repo, branch: "dev", commitTitle: "on dev",
		files: [{ path: "dev.txt", content: new Blob(["dev\n"]) }] });
	const onDev = (await listAll({ repo, revision: "dev" })).map((e) => e.path);
	const onMain = (await listAll({ repo })).map((e) => e.path);
	check(onDev.includes("dev.txt") && !onMain.includes("dev.txt"), "createBranch, then a commit to it stays on that branch");
	const titles = [];
	for await (const c of hub.listCommits({ ...common, repo, revision: "dev" })) titles.push(c.title);
	eq(titles.slice(0, 4), ["on dev", "a new LFS rule", "same bytes, new path", "1,100 files"],
		"listCommits of the branch: newest first, with their titles");
	await hub.deleteBranch({ ...common, repo, branch: "dev" });
	await rejects(() => listAll({ repo, revision: "dev" }), 404, "after deleteBranch its tree is 404");
});

let head; // main's head after the latest commit there
await step("deleteFile", async () => {
	const out = await hub.deleteFile({ ...common, repo, path: "hello.txt" });
	head = out?.commit?.oid;
	check(/^[0-9a-f]{40}$/.test(head ?? ""), "deleteFile makes a commit");
	const info = await hub.pathsInfo({ ...common, repo, paths: ["hello.txt", "empty.txt"] });
	eq(info.map((i) => i.path), ["empty.txt"], "the deleted file is gone, the others stay");
	eq(await hub.downloadFile({ ...common, repo, path: "hello.txt" }), null, "downloadFile of the deleted file is null");
});
expectRows.splice(expectRows.findIndex((r) => r[1] === "hello.txt"), 1);

await step("deleteFile of a folder", async () => {
	// JS always sends deletedFile, also for a folder path; the hub removes the folder.
	const out = await hub.deleteFile({ ...common, repo, path: "dir" });
	head = out?.commit?.oid;
	const info = await hub.pathsInfo({ ...common, repo, paths: ["dir", "dir/sub/data.json", "empty.txt"] });
	eq(info.map((i) => i.path), ["empty.txt"], "deleteFile of a folder path removes the whole folder");
});
expectRows.splice(expectRows.findIndex((r) => r[1] === "dir/sub/data.json"), 1);

await step("parentCommit", async () => {
	await rejects(() => hub.uploadFiles({ ...common, ...XET, repo, parentCommit: commitA,
		files: [{ path: "stale.txt", content: new Blob(["stale\n"]) }] }), 412,
	"a commit with a stale parentCommit fails with 412");
	const info = await hub.pathsInfo({ ...common, repo, paths: ["stale.txt"] });
	eq(info.length, 0, "... and changes nothing");
	const out = await hub.uploadFiles({ ...common, ...XET, repo, parentCommit: head,
		files: [{ path: "fresh.txt", content: new Blob(["fresh\n"]) }] });
	check(/^[0-9a-f]{40}$/.test(out?.commit?.oid ?? ""), "a commit with the current head as parentCommit lands");
});
expectRows.push(["main", "fresh.txt", sha256(Buffer.from("fresh\n")), 6]);

await step("read-only token", async () => {
	await rejects(() => hub.uploadFiles({ ...common, ...XET, accessToken: READ_TOKEN, repo,
		files: [{ path: "ro.txt", content: new Blob(["no\n"]) }] }), 403,
	"a read-only token cannot commit to main (403)");
});

await step("isPullRequest", async () => {
	const prBin = randomBytes(2048);
	const mark = requests.length;
	const out = await hub.uploadFiles({ ...common, ...XET, repo, isPullRequest: true, commitTitle: "a PR",
		files: [{ path: "pr.txt", content: new Blob(["from a pull request\n"]) },
			{ path: "pr.bin", content: new Blob([prBin]) }] });
	const m = /\/discussions\/(\d+)$/.exec(out?.pullRequestUrl ?? "");
	check(m && out.pullRequestUrl.startsWith(`${repoUrl}/discussions/`),
		"isPullRequest returns a pullRequestUrl ending in /discussions/N", JSON.stringify(out));
	const batch = since(mark).find(isBatch);
	eq(JSON.parse(batch?.body ?? "{}").ref, undefined, "the PR's LFS batch carries no ref");
	const pr = `refs/pr/${m?.[1]}`;
	const onPr = (await listAll({ repo, revision: pr })).map((e) => e.path);
	check(onPr.includes("pr.txt") && onPr.includes("pr.bin") && onPr.includes("fresh.txt"),
		`listFiles at revision ${pr} (sent raw) shows the PR's files on top of main`, JSON.stringify(onPr));
	const onMain = (await listAll({ repo })).map((e) => e.path);
	check(!onMain.includes("pr.txt"), "main does not have the PR's files");
	const got = await hub.downloadFile({ ...common, repo, path: "pr.bin", revision: pr });
	check(got && Buffer.compare(await blobBytes(got), prBin) === 0, `downloadFile at ${pr}: the bytes match`);
	const more = await hub.uploadFiles({ ...common, ...XET, repo, branch: pr,
		files: [{ path: "pr2.txt", content: new Blob(["a second PR commit\n"]) }] });
	check(/^[0-9a-f]{40}$/.test(more?.commit?.oid ?? ""), `a commit to branch ${pr} lands`);
	const info = await hub.pathsInfo({ ...common, repo, revision: pr, paths: ["pr.txt", "pr2.txt"] });
	eq(info.map((i) => i.path).sort(), ["pr.txt", "pr2.txt"], `pathsInfo at ${pr} sees both PR commits`);
	expectRows.push([pr, "pr.bin", sha256(prBin), prBin.length]);
	await rejects(() => hub.uploadFiles({ ...common, ...XET, repo, branch: "no-such-branch",
		files: [{ path: "x.txt", content: new Blob(["x\n"]) }] }), 404, "a commit to a missing branch fails with 404");
});

const ds = `user/js-ds-${MODE}`;
await step("dataset repo", async () => {
	const created = await hub.createRepo({ ...common, repo: { type: "dataset", name: ds } });
	eq(created.repoUrl, `${HUB_URL}/datasets/${ds}`, "createRepo of a dataset returns its /datasets/ URL");
	const csv = Buffer.from("a,b\n1,2\n"), parquet = randomBytes(4096);
	await hub.uploadFiles({ ...common, ...XET, repo: `datasets/${ds}`,
		files: [{ path: "data/train.csv", content: new Blob([csv]) },
			{ path: "data/train.parquet", content: new Blob([parquet]) }] });
	const info = await hub.datasetInfo({ ...common, name: ds });
	eq(info.name, ds, "datasetInfo names the dataset");
	const listed = await listAll({ repo: `datasets/${ds}`, recursive: true });
	const pq = listed.find((e) => e.path === "data/train.parquet");
	eq(pq?.lfs?.oid, sha256(parquet), "the dataset's .parquet file is stored in LFS");
	const got = await hub.downloadFile({ ...common, repo: `datasets/${ds}`, path: "data/train.parquet" });
	check(got && Buffer.compare(await blobBytes(got), parquet) === 0, "downloadFile from the dataset: the bytes match");
});

writeFileSync(join(OUT_DIR, "expect.tsv"), expectRows.map((r) => r.join("\t")).join("\n") + "\n");
