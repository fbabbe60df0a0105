"""After the suite: every AWS call the functions made was checked against their role's policy (the
local stack refuses what IAM would). Fails when any call was refused; lists, for least privilege,
the actions a policy grants that no test used. Usage: iam-report.py CALLS.jsonl SAM-FUNCTIONS.json"""
import json
import sys

calls_path, sam_path = sys.argv[1], sys.argv[2]
try:
    with open(calls_path) as f:
        calls = [json.loads(line) for line in f if line.strip()]
except FileNotFoundError:
    sys.exit("IAM: no calls were recorded at %s: the local stack's IAM check did not run" % calls_path)
with open(sam_path) as f:
    functions = json.load(f)["functions"]

refused = sorted({(c["function"], c["action"], c["resource"]) for c in calls if not c["allowed"]})
used = {}
for c in calls:
    used.setdefault(c["function"], set()).add(c["action"].lower())
print("== IAM: %d distinct function/action pairs checked against infra/template.yaml" % len({(c["function"], c["action"]) for c in calls}))
for name in sorted(functions):
    granted = set()
    dlq = functions[name].get("dead_letter_queue")
    for st in functions[name]["statements"]:
        if st.get("Effect") == "Allow":
            acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            # The statement SAM adds for the function's dead-letter queue is Lambda's to use, not the code's.
            if dlq and st.get("Resource") in (dlq, [dlq]) and [a.lower() for a in acts] == ["sqs:sendmessage"]:
                continue
            granted.update(a.lower() for a in acts)
    unused = sorted(granted - used.get(name, set()))
    print("  %-9s uses %s" % (name, ", ".join(sorted(used.get(name, set()))) or "nothing"))
    if dlq:
        print("  %-9s and Lambda sends its failed asynchronous events to %s (sqs:SendMessage)" % ("", dlq))
    if unused:
        print("  %-9s granted, unused in the suite: %s" % ("", ", ".join(unused)))
if refused:
    print("IAM: these calls would be refused in AWS:")
    for fn, action, resource in refused:
        print("  %s: %s on %s" % (fn, action, resource))
    sys.exit(1)
