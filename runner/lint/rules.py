"""Every lint rule in one place: id, severity, why it matters, the upstream fact, the fix.

The checks that fire them live in runner/lint/checks_*.py and name a rule by its id; the README's
rules table is tested against this catalogue.
"""

from __future__ import annotations

from runner.lint.model import Rule, Severity

_E = Severity.ERROR
_W = Severity.WARNING
_JOB = "argo-rollouts-job-metric"
_KARGO = "kargo-verification"
_KYVERNO = "kyverno"
_PSS = "pod-security"
_GENERAL = "manifests-in-general"
_TOOLING = "kubernetes-tooling-offline"
_CHECKED = "lint-rules-checked-against-upstream"

RULES: tuple[Rule, ...] = (
    Rule(
        "failure-limit",
        _E,
        "A failed Job can end the metric Successful: the metric fails only when failed >"
        " failureLimit, so failureLimit >= count (or -1 without a consecutiveSuccessLimit,"
        " which turns failure off) never fails.",
        "Argo Rollouts fails a metric only when failed > failureLimit, never when it is"
        " negative, and then only a consecutiveSuccessLimit > 0 can fail it (analysis.go,"
        " assessMetricStatus).",
        "Use count: 1 and leave failureLimit out (it defaults to 0).",
        _JOB,
    ),
    Rule(
        "failure-limit-retry",
        _E,
        "The metric tolerates a failed Job and still has measurements left: a failed run"
        " followed by a passing one ends it Successful, so a flaky pass hides the failure.",
        "Rollouts counts failures against failureLimit and ends the metric Successful when the"
        " count is reached (or consecutiveSuccessLimit passes in a row) without failed >"
        " failureLimit (analysis.go, assessMetricStatus).",
        "Use count: 1 and leave failureLimit out; re-run with a reverify instead.",
        _CHECKED,
        policy="a retry policy some teams choose on purpose (count: 3, failureLimit: 2 passes"
        " when any run passes)",
    ),
    Rule(
        "inconclusive-limit",
        _E,
        "inconclusiveLimit >= 1 lets an Inconclusive Job measurement through: the metric ends"
        " Successful at its count although no test ran.",
        "Rollouts marks a job measurement Inconclusive when its pod cannot pull the image and,"
        " from v1.10, when the run is terminated (metricproviders/job/job.go); the metric is"
        " Inconclusive only when inconclusive > inconclusiveLimit (analysis.go).",
        "Leave inconclusiveLimit out (it defaults to 0).",
        _CHECKED,
    ),
    Rule(
        "dry-run",
        _E,
        "spec.dryRun names a job metric (metricName is a regular expression): the metric's"
        " failure is left out of the run's verdict, so failing tests pass the verification.",
        "Rollouts matches each dryRun metricName as an unanchored regexp against every metric"
        " and leaves those out of the AnalysisRun's phase (utils/analysis/helpers.go,"
        " GetDryRunMetrics; analysis.go); Kargo merges the dryRun of all a Stage's templates"
        " (pkg/rollouts/analysis_template.go).",
        "Remove the dryRun entry, or make its metricName match only metrics that must not"
        " decide (e.g. ^smoke-info$).",
        _CHECKED,
    ),
    Rule(
        "job-metric-condition",
        _E,
        "successCondition/failureCondition are ignored for a job metric: the condition you wrote"
        " never fails anything.",
        "The job provider judges only the Job's Complete/Failed condition (metricproviders/job).",
        "Delete the condition; make the container's exit code the verdict.",
        _JOB,
    ),
    Rule(
        "job-backoff-limit",
        _E,
        "backoffLimit > 0 (or missing: Kubernetes defaults it to 6) reruns a failed pod under the"
        " same Job, and a flaky pass hides the failure.",
        "A Job retries failed pods up to backoffLimit (default 6) before it fails.",
        "Set backoffLimit: 0 and restartPolicy: Never; re-run with a reverify instead.",
        _JOB,
        policy="Kargo's own verification docs use backoffLimit: 1 (one retry of a failed pod)",
    ),
    Rule(
        "job-restart-policy",
        _E,
        "restartPolicy is not Never: with OnFailure and backoffLimit > 0 a failed container"
        " reruns the suite in the same pod (a flaky pass hides the failure); unset, the Job is"
        " refused. OnFailure with backoffLimit 0 fails at the first restart and is not reported.",
        "The Job controller fails an OnFailure Job once container restarts reach backoffLimit"
        " (any restart when it is 0: pastBackoffLimitOnFailure); a Job's pods must say Never or"
        " OnFailure, and a podFailurePolicy needs Never (API validation).",
        "Set restartPolicy: Never in the Job's pod template.",
        _JOB,
    ),
    Rule(
        "job-disruption",
        _W,
        "No podFailurePolicy rule ignores DisruptionTarget: a node drain or preemption fails the"
        " verification as if the tests had failed.",
        "Evicted pods carry the DisruptionTarget condition; action Ignore does not count them.",
        "Add podFailurePolicy.rules: [{action: Ignore, onPodConditions: [{type:"
        " DisruptionTarget, status: 'True'}]}].",
        _JOB,
        policy="whether an eviction may fail a verification is the team's call",
    ),
    Rule(
        "job-ttl",
        _W,
        "ttlSecondsAfterFinished under an hour deletes the Job and its pod logs before anyone"
        " can look at a failed verification.",
        "Kargo copies no ttlStrategy; the Job's own TTL decides when it goes.",
        "Set ttlSecondsAfterFinished to hours (e.g. 86400).",
        _JOB,
        policy="how long failed runs stay inspectable is a retention choice",
    ),
    Rule(
        "job-no-deadline",
        _W,
        "No activeDeadlineSeconds: Argo Rollouts has no metric timeout, so a hung run blocks the"
        " verification forever.",
        "Only the Job's activeDeadlineSeconds bounds a job measurement.",
        "Set activeDeadlineSeconds on the Job spec (longer than the suite needs).",
        _JOB,
        policy="a bound on run time is this project's recommendation",
    ),
    Rule(
        "indexed-job",
        _E,
        "An Indexed Job under a job metric is never created: its name contains dots, and"
        " Kubernetes refuses Indexed Jobs whose pod host names are not DNS labels.",
        "Rollouts names the Job <uid>.<metric>.<n>; Kubernetes validates <name>-<index>.",
        "Run shards as parallel metrics (one Job each), not as an Indexed Job.",
        _JOB,
    ),
    Rule(
        "job-name-too-long",
        _W,
        "The Job name <uid>.<metric>.<n> passes 63 characters: Rollouts truncates the metric"
        " part, so Job names no longer say which metric (and similar names can collide).",
        "Job names carry the 36-character AnalysisRun UID; pod labels hold 63 characters.",
        "Keep metric names to 24 characters or fewer.",
        _JOB,
    ),
    Rule(
        "job-name-collision",
        _E,
        "Two metrics get the same Job name once Rollouts cuts them to 63 characters: the second"
        " finds the first's Job, takes it as its own, and its tests never run.",
        "Rollouts 1.9 cuts the metric part of <uid>.<metric>.<n> and accepts an existing Job of"
        " the same AnalysisRun as the measurement's own.",
        "Make metric names differ within their first 24 characters (e.g. acceptance-0, -1, ...).",
        _JOB,
    ),
    Rule(
        "undeclared-arg",
        _E,
        "{{args.NAME}} is used but spec.args does not declare it: the AnalysisRun errors and the"
        " verification never runs.",
        "Argo Rollouts resolves {{args.NAME}} only from the template's declared args.",
        "Declare the arg in spec.args (and pass it from the Stage).",
        _KARGO,
    ),
    Rule(
        "template-placeholder",
        _E,
        "A {{...}} in a metric that is not {{args.NAME}} (a Kargo ${{ }} expression, a Go"
        " template): Argo Rollouts cannot resolve it, the AnalysisRun errors.",
        "Rollouts substitutes every {{...}} of a metric and fails on any tag that is not a"
        " declared arg (utils/template/template.go).",
        "Pass the value as a Stage verification arg and read it as {{args.NAME}}.",
        _JOB,
    ),
    Rule(
        "unused-stage-arg",
        _W,
        "A Stage passes an arg the template does not declare: Kargo drops it without a word, so"
        " the value never reaches the tests.",
        "Kargo flattens the args of every template the Stage names, then merges in only the"
        " Stage args they declare (pkg/rollouts/analysis_template.go, flattenArgs, mergeArgs).",
        "Declare the arg in the template's spec.args and use it, or stop passing it.",
        _KARGO,
    ),
    Rule(
        "missing-arg",
        _E,
        "An arg without a default is not passed by a Stage that uses the template: the"
        " AnalysisRun cannot be created and the verification never runs.",
        "Kargo passes Stage.spec.verification.args; an arg that no template of the Stage gives"
        " a value and the Stage does not pass fails the run (validateArgsResolution).",
        "Pass the arg in the Stage's verification.args, or give it a value in the template.",
        _JOB,
    ),
    Rule(
        "template-namespace",
        _E,
        "The Stage's AnalysisTemplate exists only in another namespace: Kargo looks in the"
        " Stage's namespace, the AnalysisRun is never created.",
        "An AnalysisTemplate is namespaced; a Stage finds it in its own namespace (or a"
        " ClusterAnalysisTemplate with kind: ClusterAnalysisTemplate).",
        "Put the template in the Stage's namespace, or use a ClusterAnalysisTemplate.",
        _KARGO,
    ),
    Rule(
        "run-deadline",
        _W,
        "RUN_DEADLINE_SECONDS is not below activeDeadlineSeconds: Kubernetes kills the runner"
        " before it can stop the suite and write its verdict and evidence.",
        "At activeDeadlineSeconds the Job controller kills the pod and fails the Job.",
        "Set RUN_DEADLINE_SECONDS at least 60 s below activeDeadlineSeconds.",
        _JOB,
    ),
    Rule(
        "uid-label-env",
        _W,
        "An env var from the pod label analysisrun.argoproj.io/uid is empty on Argo Rollouts"
        " 1.9 (the label is on the Job only) and the container has no fallback.",
        "Rollouts copies the uid label to the pod only from v1.10.",
        "Also pass JOB_NAME from metadata.labels['batch.kubernetes.io/job-name'] (the UID is"
        " its first dot-separated part).",
        _JOB,
    ),
    Rule(
        "unknown-runner-setting",
        _W,
        "An env var on the verification-runner container is close to a setting the runner reads"
        " but is not one: the misspelt setting is ignored and its default applies.",
        "The runner reads exactly the variables in the README's settings table.",
        "Correct the name to the setting it was meant to be.",
        "settings",
        "README.md",
    ),
    Rule(
        "shard-gap",
        _E,
        "SHARD_COUNT says N shards, but the metrics that run the runner do not carry SHARD_INDEX"
        " 0..N-1 exactly once each (or disagree on N): each metric's Job passes on its own, so"
        " a shard that no metric runs leaves its tests out of a green verification.",
        "Playwright runs shard i of N only in the pod that asks for it; Kargo sees one result per"
        " metric.",
        "Keep one metric per shard index 0..N-1 (components/sharding: one copy and one index"
        " block per shard), all with the same SHARD_COUNT.",
        "sharding",
        "README.md",
    ),
    Rule(
        "deployment-not-proven",
        _W,
        "The verification proves nothing about the deployment: the runner's env sets neither"
        ' PROVE_WORKLOAD nor PROVE_VERSION_URL (or the Stage passes "" for every arg mapped'
        " into them), so the runner tests whatever BASE_URL answers and a verification of the"
        " previous release can turn the new Freight green.",
        "Without a proof setting the readiness gate only asks BASE_URL for an answer; the verdict"
        ' says "deployment not proven".',
        "Set PROVE_WORKLOAD (with PROVE_IMAGE) or PROVE_VERSION_URL (with PROVE_VERSION) from"
        " the Stage's args, as kustomize/base/analysistemplate.yaml does.",
        "prove-the-deployment",
        "README.md",
        policy="a verification may knowingly test a URL whose version nothing can prove",
    ),
    Rule(
        "rollouts-version",
        _E,
        "The linted Argo Rollouts controller is older than v1.10 and a job metric is linted"
        " too: a terminated job measurement ends Successful, so an aborted verification"
        " (reused by Kargo when the same Freight is promoted again) turns the Freight green.",
        "Rollouts' job provider marks a terminated measurement Successful up to v1.9.1 and"
        " Inconclusive from v1.10.0-rc1 (metricproviders/job/job.go, Terminate).",
        "Upgrade the controller to Argo Rollouts v1.10 or later.",
        _JOB,
    ),
    Rule(
        "unknown-field",
        _E,
        "A field the CRD does not define is dropped by the API server: the setting you wrote"
        " (e.g. verification.reuse) does nothing.",
        "Structural CRD schemas prune unknown fields.",
        "Remove or correct the field (see the CRD's schema for the real name).",
        _GENERAL,
    ),
    Rule(
        "schema",
        _E,
        "The object does not validate against its CRD (type, enum, required field): the apply"
        " fails and the verification never runs.",
        "The API server validates custom resources against the CRD's openAPIV3Schema.",
        "Correct the value as the message says.",
        _GENERAL,
    ),
    Rule(
        "unquoted-expression-arg",
        _E,
        "A verification arg's ${{ }} expression is not quote()d: whenever its result parses as a"
        " number, bool or JSON (a short SHA such as 0123456 or 1234e56, a tag such as 1.25), the"
        " AnalysisRun is never built and the verification ends in Error.",
        "Kargo's EvaluateTemplate turns a result that parses as a float, bool or JSON into that"
        " type, and buildArgs fails with 'value is not a string but float64'"
        " (pkg/expressions/json_templates.go; pkg/rollouts/analysis_run_builder.go).",
        "Wrap the whole value in quote(): value: ${{ quote(...) }}.",
        _CHECKED,
    ),
    Rule(
        "unquoted-step-expression",
        _W,
        "A promotion step's image tag is an unquoted expression: a tag that parses as a number"
        " (1.25, 20240101) becomes one and the step's config fails its schema, so the promotion"
        " fails for that Freight.",
        "Kargo evaluates step config with EvaluateJSONTemplate, which types each result as"
        " EvaluateTemplate does; the step schemas type tag as a string"
        " (pkg/promotion/runner/builtin/schemas).",
        "Wrap the value in quote(): ${{ quote(...) }}.",
        _CHECKED,
    ),
    Rule(
        "promotion-in-verification",
        _E,
        "ctx.promotion does not exist in verification args: the expression fails and the"
        " verification never runs.",
        "Verification args see ctx.project, ctx.stage, the Stage's vars and the freight, data"
        " (configMap, secret) and utility functions; no ctx.promotion (akuity/kargo:"
        " pkg/controller/stages/regular_stages.go).",
        "Read the promotion from the AnalysisRun's kargo.akuity.io/promotion annotation.",
        _KARGO,
    ),
    Rule(
        "commit-output-revision",
        _E,
        "desiredRevision comes from a git-commit output: when git-push rebases, the pushed"
        " commit differs, the health check waits forever and verification never starts.",
        "git-push rebases before every push attempt (maxAttempts, default 10) and outputs the"
        " commit it actually pushed (pkg/promotion/runner/builtin/schemas/git-push-config.json).",
        "Give git-push an alias (as: push) and use ${{ outputs.push.commit }}.",
        _KARGO,
    ),
    Rule(
        "unknown-step-output",
        _E,
        "An expression reads outputs of a step alias that no step declares: the promotion fails.",
        "Promotion steps expose outputs under their `as:` alias only.",
        "Add `as: NAME` to the step, or correct the alias.",
        _KARGO,
    ),
    Rule(
        "kyverno-generate-operations",
        _E,
        "A generate rule matching on operations is skipped by background processing: existing"
        " namespaces get nothing and synchronize never propagates changes.",
        "Background requests (synchronize, generateExisting) carry no admission operation, so an"
        " operations filter skips them (pkg/engine/utils/match.go; kyverno#10574). A rule that"
        " lists DELETE generates on trigger deletion and is not reported.",
        "Remove operations from the generate rule's match: without it the match filters no"
        " operation at all.",
        _KYVERNO,
    ),
    Rule(
        "kyverno-generate-fixed-namespace",
        _W,
        "A generate rule triggered by Namespaces writes one fixed object to one fixed namespace:"
        " every other namespace that opts in gets no copy. A name taken from the trigger (one"
        " object per Namespace in a fixed namespace) is meant and not reported.",
        "The generated resource goes to `namespace` under `name`; the trigger is request.object.",
        'Target the trigger: namespace: "{{ request.object.metadata.name }}".',
        _KYVERNO,
    ),
    Rule(
        "pss-not-enforced",
        _W,
        "The Job claims Pod Security 'restricted' but its namespace does not enforce it: a"
        " change that breaks the claim goes unnoticed.",
        "Only the namespace label pod-security.kubernetes.io/enforce enforces a level.",
        "Label the namespace pod-security.kubernetes.io/enforce: restricted.",
        _PSS,
        policy="which Pod Security level a namespace enforces is the cluster's choice",
    ),
    Rule(
        "pss-violation",
        _E,
        "A pod breaks Pod Security 'restricted' in a namespace that enforces it: the pod is"
        " refused and the verification never runs.",
        "Admission refuses pods that break the namespace's enforced level.",
        "Meet the profile: runAsNonRoot, allowPrivilegeEscalation: false, drop ALL,"
        " seccompProfile RuntimeDefault, allowed volume types only.",
        _PSS,
    ),
    Rule(
        "kustomize-common-labels",
        _W,
        "commonLabels (or labels with includeSelectors: true) writes the labels into selectors:"
        " changing one later breaks the immutable selectors of Deployments and Jobs.",
        "kustomize's commonLabels is deprecated and rewrites selectors.",
        "Use labels: with includeSelectors: false.",
        _TOOLING,
        policy="harmless until a label changes",
    ),
    Rule(
        "duplicate-key",
        _W,
        "A key appears twice in one mapping: the first value is silently replaced (kubectl's"
        " strict validation refuses it).",
        "YAML keeps the last duplicate key; kubectl --validate=strict rejects duplicates.",
        "Keep one of the two keys.",
        _GENERAL,
    ),
)

BY_ID = {rule.id: rule for rule in RULES}
