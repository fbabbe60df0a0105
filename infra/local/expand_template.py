"""Expands infra/template.yaml the way `sam deploy` does (the SAM translator), then resolves the
intrinsic functions the local stack needs, and writes what each function is given in AWS:

  {"functions": {"intake": {"logical_id": "IntakeFunction", "environment": {...},
                            "statements": [{"Effect", "Action", "Resource", ...}], "rules": {...},
                            "dead_letter_queue": null, ...}}}

References to the template's own resources and parameters stay as `{{Name}}` (or `{{Name.Arn}}`)
placeholders that the local stack fills with its table, bucket and settings; pseudo parameters are
the emulator's account and region. Usage: expand_template.py TEMPLATE OUT.json
"""
import json
import os
import sys

import yaml
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform

PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "rapport",
}
ARN = {
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:us-east-1:123456789012:table/{{%s}}",
    "AWS::S3::Bucket": "arn:aws:s3:::{{%s}}",
    "AWS::Lambda::Function": "arn:aws:lambda:us-east-1:123456789012:function:{{%s}}",
}
# Resources the local stack does not run are named by their logical id, with no placeholder to fill:
# a role may name one (nurture's dead-letter queue, which Lambda itself writes to), no local call reaches it.
UNRUN_ARN = {
    "AWS::SQS::Queue": "arn:aws:sqs:us-east-1:123456789012:%s",
    "AWS::SNS::Topic": "arn:aws:sns:us-east-1:123456789012:%s",
}


class Loader(yaml.SafeLoader):
    pass


def _tag(name):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {"Ref": value} if name == "Ref" else {"Fn::" + name: value}

    return construct


for _name in ["Ref", "Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
              "FindInMap", "Base64", "GetAZs", "ImportValue", "Condition", "Cidr"]:
    Loader.add_constructor("!" + _name, _tag(_name))


class NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs; offline, every name maps to itself."""

    def load(self):
        return {}


def resolve(value, resources, params):
    if isinstance(value, list):
        return [resolve(v, resources, params) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            if arg in PSEUDO:
                return PSEUDO[arg]
            if params.get(arg, {}).get("Type") == "CommaDelimitedList":
                return ["{{%s}}" % arg]
            return "{{%s}}" % arg
        if key == "Fn::GetAtt":
            name, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            kind = resources.get(name, {}).get("Type")
            if attr == "Arn" and kind in ARN:
                return ARN[kind] % name
            if attr == "Arn" and kind in UNRUN_ARN:
                return UNRUN_ARN[kind] % name
            return "{{%s.%s}}" % (name, attr)
        if key == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            out, i = "", 0
            while i < len(text):
                start = text.find("${", i)
                if start < 0:
                    out += text[i:]
                    break
                end = text.index("}", start)
                out += text[i:start]
                name = text[start + 2:end]
                if name.startswith("!"):
                    out += "${" + name[1:] + "}"
                elif name in extra:
                    out += str(resolve(extra[name], resources, params))
                elif "." in name:
                    out += resolve({"Fn::GetAtt": name.split(".", 1)}, resources, params)
                else:
                    ref = resolve({"Ref": name}, resources, params)
                    out += ",".join(ref) if isinstance(ref, list) else ref
                i = end + 1
            return out
        if key == "Fn::Join":
            sep, items = arg
            parts = []
            for item in resolve(items, resources, params):
                parts.extend(item if isinstance(item, list) else [item])
            return sep.join(str(p) for p in parts)
    return {k: resolve(v, resources, params) for k, v in value.items()}


def main(template_path, out_path):
    os.environ.setdefault("AWS_DEFAULT_REGION", PSEUDO["AWS::Region"])
    with open(template_path) as f:
        template = yaml.load(f, Loader=Loader)
    # Required parameters get placeholder values: only the structure matters here.
    params = {k: "{{%s}}" % k for k in template.get("Parameters", {})}
    # `sam package` uploads each function's code and points CodeUri at it before the transform.
    for res in template["Resources"].values():
        if res["Type"] == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = "s3://rapport-artifacts/code.zip"
    try:
        expanded = transform(template, params, NoManagedPolicies())
    except InvalidDocumentException as e:
        sys.exit("the SAM translator refused the template: %s" % "; ".join(str(c) for c in e.causes))
    resources = expanded["Resources"]
    declared = expanded.get("Parameters", {})
    functions = {}
    for logical_id, res in resources.items():
        if res["Type"] != "AWS::Lambda::Function":
            continue
        props = res["Properties"]
        role_id = props["Role"]["Fn::GetAtt"][0]
        role = resources[role_id]["Properties"]
        statements = []
        for policy in role.get("Policies", []):
            doc = resolve(policy["PolicyDocument"], resources, declared)
            statements.extend(doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]])
        env = props.get("Environment", {}).get("Variables", {})
        rules = {}
        for rid, r in resources.items():
            if r["Type"] != "AWS::Events::Rule":
                continue
            targets = r["Properties"].get("Targets", [])
            if any(t.get("Arn", {}).get("Fn::GetAtt", [None])[0] == logical_id for t in targets):
                rules[rid] = r["Properties"]["EventPattern"]
        # Event source mappings from the table's stream: how Lambda batches, filters and retries.
        streams = {}
        for rid, r in resources.items():
            if r["Type"] != "AWS::Lambda::EventSourceMapping":
                continue
            p = r["Properties"]
            if p.get("FunctionName", {}).get("Ref") != logical_id:
                continue
            streams[rid] = {
                "batch_size": p.get("BatchSize", 100),
                "starting_position": p.get("StartingPosition"),
                "filters": [json.loads(f["Pattern"]) for f in p.get("FilterCriteria", {}).get("Filters", [])],
                "report_batch_item_failures": "ReportBatchItemFailures" in p.get("FunctionResponseTypes", []),
                "bisect_batch_on_function_error": p.get("BisectBatchOnFunctionError", False),
                "maximum_retry_attempts": p.get("MaximumRetryAttempts", -1),
                "on_failure": resolve(p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
                                      resources, declared),
            }
        name = logical_id[: -len("Function")].lower() if logical_id.endswith("Function") else logical_id
        functions[name] = {
            "logical_id": logical_id,
            "environment": resolve(env, resources, declared),
            "managed_policies": role.get("ManagedPolicyArns", []),
            "statements": statements,
            "event_rules": rules,
            "stream_sources": streams,
            # Where Lambda puts an asynchronous event the function failed on (its role may send there).
            "dead_letter_queue": resolve(props.get("DeadLetterConfig", {}).get("TargetArn"), resources, declared),
            "timeout": props.get("Timeout", 3),
            "memory_size": props.get("MemorySize", 128),
        }
    with open(out_path, "w") as f:
        json.dump({"functions": functions}, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: expand_template.py TEMPLATE OUT.json")
    main(sys.argv[1], sys.argv[2])
