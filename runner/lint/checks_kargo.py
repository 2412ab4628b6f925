"""Checks on Kargo Stages and the AnalysisTemplates they run: args that resolve, expressions
that exist in verification, health checks on what was really pushed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from runner.lint.hits import FieldPath, Hit, analysis_docs, get, items, strings
from runner.lint.yamldoc import Doc

# Argo Rollouts substitutes every {{...}} of a metric (fasttemplate, tags trimmed) and fails the
# AnalysisRun on any tag that is not a declared arg (utils/template/template.go).
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
# outputs.alias or outputs['alias'] (not task.outputs, which a PromotionTask's caller reads).
_OUTPUT_USE = re.compile(r"(?<![\w.])outputs(?:\.([A-Za-z_][-\w]*)|\[\s*['\"]([-\w]+)['\"]\s*\])")
_STEP_KINDS = {
    "Stage": ("spec", "promotionTemplate", "spec", "steps"),
    "Promotion": ("spec", "steps"),
}
_TASK_KINDS = ("PromotionTask", "ClusterPromotionTask")


def _kargo(doc: Doc) -> bool:
    return doc.api_version.startswith("kargo.akuity.io/")


def _declared(template: Doc) -> dict[str, dict[str, Any]]:
    return {
        str(arg["name"]): arg
        for _, arg in items(get(template.data, "spec", "args"))
        if isinstance(arg, dict) and "name" in arg
    }


def check_args_used(docs: Sequence[Doc]) -> Iterator[Hit]:
    for template in analysis_docs(docs):
        if template.kind == "AnalysisRun":
            continue  # a run's args are already resolved
        declared = _declared(template)
        for path, text in strings(get(template.data, "spec", "metrics"), ("spec", "metrics")):
            for raw in _PLACEHOLDER.findall(text):
                tag = raw.strip()
                if tag.startswith("args."):
                    if tag[len("args.") :] not in declared:
                        yield Hit(
                            "undeclared-arg",
                            template,
                            path,
                            f"{{{{{tag}}}}} is used but {template.label} does not declare it",
                        )
                    continue
                hint = (
                    " (a Kargo ${{ }} expression belongs in the Stage's verification args)"
                    if "${{" in text
                    else ""
                )
                yield Hit(
                    "template-placeholder",
                    template,
                    path,
                    f"{{{{{tag}}}}} in {template.label} is not an arg: Argo Rollouts fails the"
                    f" AnalysisRun on it{hint}",
                )


def _referenced_templates(stage: Doc, docs: Sequence[Doc]) -> Iterator[tuple[int, Doc]]:
    refs = get(stage.data, "spec", "verification", "analysisTemplates")
    for index, ref in items(refs):
        cluster = get(ref, "kind") == "ClusterAnalysisTemplate"
        wanted = "ClusterAnalysisTemplate" if cluster else "AnalysisTemplate"
        for doc in analysis_docs(docs):
            if doc.kind != wanted or doc.name != get(ref, "name"):
                continue
            # A namespaced template must sit in the Stage's namespace (when both say one).
            namespaces = {doc.namespace, stage.namespace} - {""}
            if cluster or len(namespaces) < 2:
                yield index, doc


def check_stage_args(docs: Sequence[Doc]) -> Iterator[Hit]:
    """Kargo flattens every template a Stage names into one before it merges the Stage's args
    (pkg/rollouts/analysis_template.go, flattenArgs then mergeArgs): an arg declared by any of
    them is used, and a value any of them gives resolves it."""
    for stage in docs:
        if stage.kind != "Stage" or not _kargo(stage):
            continue
        args_path: FieldPath = ("spec", "verification", "args")
        passed = {
            str(arg.get("name")): index
            for index, arg in items(get(stage.data, *args_path))
            if isinstance(arg, dict)
        }
        templates = list(_referenced_templates(stage, docs))
        declared: dict[str, list[dict[str, Any]]] = {}
        for _, template in templates:
            for name, arg in _declared(template).items():
                declared.setdefault(name, []).append(arg)
        for ref_index, template in templates:
            for name in _declared(template):
                if name not in passed and not any(
                    "value" in arg or "valueFrom" in arg for arg in declared[name]
                ):
                    yield Hit(
                        "missing-arg",
                        stage,
                        ("spec", "verification", "analysisTemplates", ref_index),
                        f"Stage {stage.name!r} does not pass arg {name!r}, which"
                        f" {template.label} declares without a default",
                    )
        if not templates:
            continue
        names = " or ".join(sorted({t.label for _, t in templates}))
        for name, index in passed.items():
            if name not in declared:
                yield Hit(
                    "unused-stage-arg",
                    stage,
                    (*args_path, index, "name"),
                    f"Stage {stage.name!r} passes arg {name!r}, which {names}"
                    " does not declare: Kargo drops it without a word",
                )


def check_template_namespace(docs: Sequence[Doc]) -> Iterator[Hit]:
    for stage in docs:
        if stage.kind != "Stage" or not _kargo(stage) or not stage.namespace:
            continue
        found = {index for index, _ in _referenced_templates(stage, docs)}
        refs = get(stage.data, "spec", "verification", "analysisTemplates")
        for index, ref in items(refs):
            if index in found or get(ref, "kind") == "ClusterAnalysisTemplate":
                continue
            elsewhere = sorted(
                d.namespace
                for d in analysis_docs(docs)
                if d.kind == "AnalysisTemplate" and d.name == get(ref, "name") and d.namespace
            )
            if elsewhere:
                yield Hit(
                    "template-namespace",
                    stage,
                    ("spec", "verification", "analysisTemplates", index, "name"),
                    f"Stage {stage.name!r} in namespace {stage.namespace!r} uses AnalysisTemplate"
                    f" {get(ref, 'name')!r}, which is only in {', '.join(elsewhere)}",
                )


def check_promotion_in_verification(docs: Sequence[Doc]) -> Iterator[Hit]:
    for stage in docs:
        if stage.kind != "Stage" or not _kargo(stage):
            continue
        verification = get(stage.data, "spec", "verification")
        for path, text in strings(verification, ("spec", "verification")):
            if "ctx.promotion" in text:
                yield Hit(
                    "promotion-in-verification",
                    stage,
                    path,
                    f"Stage {stage.name!r}: ctx.promotion does not exist in verification",
                )


def _step_lists(docs: Sequence[Doc]) -> Iterator[tuple[Doc, FieldPath, list[Any]]]:
    for doc in docs:
        if not _kargo(doc):
            continue
        path = _STEP_KINDS.get(doc.kind) or (("spec", "steps") if doc.kind in _TASK_KINDS else None)
        steps = get(doc.data, *path) if path else None
        if path and isinstance(steps, list):
            yield doc, path, steps


def _aliases(steps: list[Any]) -> dict[str, str]:
    """Step alias -> the step it names (`uses`). A step without `as` is `step-<n>` (`task-<n>`
    for a task), n counting from 1 (kargo: api/v1alpha1/promotion_types.go, GetAlias)."""
    aliases: dict[str, str] = {}
    for index, step in items(steps):
        if not isinstance(step, dict):
            continue
        default = f"task-{index + 1}" if step.get("task") else f"step-{index + 1}"
        aliases[str(step.get("as") or default)] = str(step.get("uses", step.get("task", "")))
    return aliases


def _outputs_used(steps: list[Any], base: FieldPath) -> Iterator[tuple[FieldPath, str, str]]:
    for path, text in strings(steps, base):
        for dotted, quoted in _OUTPUT_USE.findall(text):
            yield path, dotted or quoted, text


def check_step_outputs(docs: Sequence[Doc]) -> Iterator[Hit]:
    for doc, base, steps in _step_lists(docs):
        aliases = _aliases(steps)
        for path, alias, _text in _outputs_used(steps, base):
            if alias not in aliases:
                yield Hit(
                    "unknown-step-output",
                    doc,
                    path,
                    f"{doc.label}: outputs of step {alias!r}, but no step has `as: {alias}`",
                )
            elif path[-1] == "desiredRevision" and aliases[alias] == "git-commit":
                yield Hit(
                    "commit-output-revision",
                    doc,
                    path,
                    f"{doc.label}: desiredRevision from git-commit step {alias!r}; use the"
                    " git-push step's output (what reached the remote)",
                )


# Kargo's expression delimiters (pkg/expressions/json_templates.go, supportedDelimiters).
_EXPRESSION = re.compile(r"\$\{\{.*?\}\}|\$\{%.*?%\}", re.DOTALL)
# A whole value that is one quote()/unsafeQuote() call: its result keeps its quotes, which
# EvaluateTemplate strips without parsing the rest.
_QUOTED = re.compile(r"\s*\$\{\{\s*(?:unsafeQuote|quote)\s*\(.*\)\s*\}\}\s*", re.DOTALL)
# Results an expression plausibly gives (a short SHA of digits, one with an e, a number-like tag,
# a flag, nothing): what the value becomes with each of them in every expression's place.
_SAMPLE_RESULTS = ("0123456", "1234e56", "1.25", "true", "null", "")
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan"
    r"|0[xX](?:[\da-fA-F]+\.?[\da-fA-F]*|\.[\da-fA-F]+)[pP][+-]?\d+)",
    re.IGNORECASE,
)
_GO_BOOLS = frozenset(
    {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}
)
# Promotion step fields whose schema says string and whose values are often number-like: image
# tags (1.25, 20240101) in kustomize-set-image, helm-update-image, argocd-update
# (pkg/promotion/runner/builtin/schemas). Full commit IDs (desiredRevision, checkout commit) are
# 40 hex digits: all digits, or digits around one e, about 3 times in 10^8; not reported.
_STRING_STEP_FIELDS = frozenset({"tag"})


def _typed_result(text: str) -> bool:
    """Whether Kargo's EvaluateTemplate turns `text` into a non-string: after the expressions, a
    result that Go parses as a float, a bool or JSON is that value, not the string."""
    result = text.removesuffix("\n")
    if len(result) > 1 and result.startswith('"') and result.endswith('"'):
        return False
    if _GO_FLOAT.fullmatch(result) or result in _GO_BOOLS:
        return True
    try:
        json.loads(result)
    except ValueError:
        return False
    return True


def may_become_non_string(value: str) -> bool:
    """A value with an expression whose result can parse as a number, bool or JSON for some
    plausible expression result (an arg that is all literal text is never evaluated)."""
    if not _EXPRESSION.search(value) or _QUOTED.fullmatch(value):
        return False
    return any(_typed_result(_EXPRESSION.sub(sample, value)) for sample in _SAMPLE_RESULTS)


def check_unquoted_args(docs: Sequence[Doc]) -> Iterator[Hit]:
    for stage in docs:
        if stage.kind != "Stage" or not _kargo(stage):
            continue
        for index, arg in items(get(stage.data, "spec", "verification", "args")):
            value = get(arg, "value")
            if isinstance(value, str) and may_become_non_string(value):
                yield Hit(
                    "unquoted-expression-arg",
                    stage,
                    ("spec", "verification", "args", index, "value"),
                    f"Stage {stage.name!r} arg {get(arg, 'name')!r}: {value.strip()!r} is a number"
                    " (or bool) whenever its result parses as one, and the verification errors;"
                    " wrap it in quote()",
                )


def check_unquoted_step_fields(docs: Sequence[Doc]) -> Iterator[Hit]:
    for doc, base, steps in _step_lists(docs):
        for path, text in strings(steps, base):
            if path[-1] in _STRING_STEP_FIELDS and may_become_non_string(text):
                yield Hit(
                    "unquoted-step-expression",
                    doc,
                    path,
                    f"{doc.label}: {path[-1]} {text.strip()!r} is a number whenever its result"
                    " parses as one, and the step's config fails its schema; wrap it in quote()",
                )


CHECKS = (
    check_args_used,
    check_stage_args,
    check_template_namespace,
    check_promotion_in_verification,
    check_step_outputs,
    check_unquoted_args,
    check_unquoted_step_fields,
)
