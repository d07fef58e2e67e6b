#!/usr/bin/env python3
"""Write seed corpora for the fuzz targets from the vendored RFC 9420 test vectors.

Usage (from the repository root or fuzz/): python3 fuzz/seed_corpus.py
Writes fuzz/corpus/<target>/<name> (one input per file); existing files are kept.
"""
import hashlib
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "engine", "test_vectors", "mls")
CORPUS = os.path.join(HERE, "corpus")
CASES = 24  # messages.json cases used (of 300)


def load(name):
    with open(os.path.join(VECTORS, name)) as f:
        return json.load(f)


def h(s):
    return bytes.fromhex(s)


written = {}


def seed(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    written[target] = written.get(target, 0) + 1


def body(mls_message):
    """Strip the MLSMessage header (version, wire_format)."""
    return mls_message[4:]


PROPOSAL_TYPES = [
    ("add_proposal", 1),
    ("update_proposal", 2),
    ("remove_proposal", 3),
    ("pre_shared_key_proposal", 4),
    ("re_init_proposal", 5),
    ("external_init_proposal", 6),
    ("group_context_extensions_proposal", 7),
]

for case in load("messages.json")[:CASES]:
    for k in ["mls_welcome", "mls_group_info", "mls_key_package", "public_message_application",
              "public_message_proposal", "public_message_commit", "private_message"]:
        seed("mls_message", h(case[k]))
    for k in ["public_message_application", "public_message_proposal", "public_message_commit"]:
        seed("public_message", body(h(case[k])))
    seed("private_message", body(h(case["private_message"])))
    seed("welcome", body(h(case["mls_welcome"])))
    seed("group_info", body(h(case["mls_group_info"])))
    seed("key_package", body(h(case["mls_key_package"])))
    seed("ratchet_tree", h(case["ratchet_tree"]))
    seed("group_secrets", h(case["group_secrets"]))
    seed("commit", h(case["commit"]))
    for k, t in PROPOSAL_TYPES:
        seed("proposal", struct.pack(">H", t) + h(case[k]))

for case in load("welcome.json"):
    seed("mls_message", h(case["welcome"]))
    seed("mls_message", h(case["key_package"]))
    seed("welcome", body(h(case["welcome"])))
    seed("key_package", body(h(case["key_package"])))

for case in load("message-protection.json"):
    for k in ["proposal_pub", "commit_pub"]:
        seed("mls_message", h(case[k]))
        seed("public_message", body(h(case[k])))
    for k in ["proposal_priv", "commit_priv", "application_priv"]:
        seed("mls_message", h(case[k]))
        seed("private_message", body(h(case[k])))
    seed("proposal", h(case["proposal"]))
    seed("commit", h(case["commit"]))

for case in load("tree-validation.json")[:40]:
    tree, gid = h(case["tree"]), h(case["group_id"])
    seed("ratchet_tree", tree)
    seed("tree_from_wire_validate", bytes([len(gid)]) + gid + tree)

for case in load("treekem.json")[:20]:
    tree, gid = h(case["ratchet_tree"]), h(case["group_id"])
    seed("ratchet_tree", tree)
    seed("tree_from_wire_validate", bytes([len(gid)]) + gid + tree)
    for up in case["update_paths"]:
        seed("update_path", h(up["update_path"]))

for case in load("tree-operations.json"):
    for k in ["tree_before", "tree_after"]:
        seed("ratchet_tree", h(case[k]))
        seed("tree_from_wire_validate", bytes([0]) + h(case[k]))
    seed("proposal", h(case["proposal"]))

# unprotect_private scripts (see fuzz_targets/unprotect_private.rs): byte 0 = tolerance, then
# ops: 0 raw (u16 length, bytes), 1 vector message bit flip (which, position/4, mask),
# 2 genuine (flags, generation, padding), 3 replay (index), 4 forged signature (flags,
# generation), 5 garbage content (flags = leaf<<5 | far<<4 | proposal, generation, length,
# bytes), 6 arbitrary plaintext (flags, generation, length, bytes).
mp = load("message-protection.json")[0]
scripts = [
    bytes([0, 2, 0, 0, 0, 2, 0, 1, 0, 2, 1, 0, 3]),
    bytes([1, 2, 0, 5, 0, 2, 0, 3, 0, 3, 0, 3, 1, 2, 0, 4, 7, 2, 0, 2, 0]),
    bytes([3, 2, 0, 40, 0, 2, 0, 37, 0, 2, 0, 38, 0, 3, 1, 2, 0, 39, 0, 2, 0, 120, 0]),
    bytes([0, 5, 0x20, 244, 40]) + bytes(range(40)) + bytes([2, 0, 0, 0, 2, 0, 1, 0]),
    bytes([2, 5, 0x30, 9, 16]) + bytes(16) + bytes([5, 0x40, 3, 8]) + bytes(8),
    bytes([0, 4, 1, 10, 2, 1, 10, 0, 4, 1, 10, 4, 0, 0, 2, 0, 0, 0]),
    bytes([0, 1, 2, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0]),
    bytes([0, 1, 2, 20, 1, 2, 0, 0, 0]),
    bytes([0, 6, 0, 0, 10]) + b"\x00\x03abc\x00\x00\x00\x00\x00" + bytes([6, 1, 3, 4, 0, 3, 0, 0]),
]
for k in ["proposal_priv", "commit_priv", "application_priv"]:
    raw = body(h(mp[k]))
    scripts.append(bytes([0, 0]) + struct.pack(">H", len(raw)) + raw + bytes([2, 0, 0, 0]))
for s in scripts:
    seed("unprotect_private", s)

# process_resigned scripts (see fuzz_targets/process_resigned.rs): byte 0 = flags (bit 0 send
# a standalone proposal, bits 1-3 which one, bit 4 commit as PrivateMessage, bit 5 proposal as
# PrivateMessage, bit 6 no commit, bit 7 no leaf re-signing), then edits (one byte each, bit 7
# = the proposal, else the commit; operands follow, a missing operand reads as 0; commit edit
# 0x0a seals: the harness recomputes the path and the confirmation tag).
resigned = [bytes([0]), bytes([0x10]), bytes([0x80, 0x07, 0x0a])]
for k in range(5):
    flags = 1 | (k << 1)
    resigned += [
        bytes([flags]),                    # genuine proposal k, then the genuine commit
        bytes([flags | 0x30]),             # both as PrivateMessages
        bytes([flags | 0x40, 0x80, 0x01]),  # proposal k edited, no commit
        bytes([flags, 0x04, 0x00, 0x00]),  # the commit also references proposal k
        bytes([flags, 0x05, 0x00, 0x01]),  # first commit entry edited
    ]
resigned += [
    bytes([0, 0x06]),                      # path dropped
    bytes([0, 0x07, 0x05, 0x00, 0x00, 0x00]),  # a path ciphertext removed
    bytes([0, 0x07, 0x03, 0x00, 0x00, 0x07]),  # a path node key replaced
    bytes([0, 0x07, 0x09, 0x00, 0x00, 0x01]),  # path leaf parent hash flipped
    bytes([0, 0x03, 0x00, 0x00, 0x00]),    # an Add inserted
    bytes([0, 0x08, 0x00, 0x01]),          # sender changed to leaf 1
    # sealed (path and confirmation tag recomputed by the harness): all accepted
    bytes([0, 0x0a]),
    bytes([0x10, 0x0a]),
    bytes([0, 0x00, 0x00, 0x00, 0x00, 0x06, 0x0a]),  # no proposals, no path
    bytes([0, 0x03, 0x00, 0x00, 0x01, 0x0a]),        # a second Add
    bytes([0x07, 0x04, 0x00, 0x00, 0x0a]),           # + the standalone PSK by reference
    bytes([0x09, 0x07, 0x0a, 0x03, 0x02, 0x06, 0x0a]),  # path leaf supports a GREASE extension
]
for s_ in resigned:
    seed("process_resigned", s_)

# process_live / join_live: genuine messages of the live group in src/lib.rs (`live`), which
# only the engine can make: one run of the target (built by cargo fuzz) writes them when
# CANOPY_FUZZ_SEEDS is set.
import subprocess  # noqa: E402

env = dict(os.environ, CANOPY_FUZZ_SEEDS=CORPUS, RUSTC_BOOTSTRAP="1")
empty = os.path.join(HERE, "target", "empty-corpus")
os.makedirs(empty, exist_ok=True)
r = subprocess.run(["cargo", "fuzz", "run", "process_live", empty, "--", "-runs=1"],
                   cwd=HERE, env=env, capture_output=True, text=True)
if r.returncode != 0:
    print(r.stdout[-2000:], r.stderr[-2000:])
    raise SystemExit("live seeds: `cargo fuzz run process_live -- -runs=1` failed")
for target in ["process_live", "join_live"]:
    written[target] = len(os.listdir(os.path.join(CORPUS, target)))

for t in sorted(written):
    print(f"{t}: {written[t]} seeds")
