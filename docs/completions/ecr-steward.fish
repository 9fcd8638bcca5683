# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ecr_steward_global_optspecs
    string join \n h/help V/version
end

function __fish_ecr_steward_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ecr_steward_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ecr_steward_using_subcommand
    set -l cmd (__fish_ecr_steward_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ecr-steward -n "__fish_ecr_steward_needs_command" -s h -l help -d 'Print help'
complete -c ecr-steward -n "__fish_ecr_steward_needs_command" -s V -l version -d 'Print version'
complete -c ecr-steward -n "__fish_ecr_steward_needs_command" -f -a "check" -d 'Check tags (and labels) against the policy before a push'
complete -c ecr-steward -n "__fish_ecr_steward_needs_command" -f -a "gate" -d 'Gate a pushed image: its tags and labels against the policy, its scan against the bar'
complete -c ecr-steward -n "__fish_ecr_steward_needs_command" -f -a "replicate" -d 'Copy images to other regions: a backfill, or a one-off copy'
complete -c ecr-steward -n "__fish_ecr_steward_needs_command" -f -a "wait" -d 'Wait until an image is present and complete (with its signatures) in other regions'
complete -c ecr-steward -n "__fish_ecr_steward_needs_command" -f -a "policy" -d 'Validate or print policy files'
complete -c ecr-steward -n "__fish_ecr_steward_needs_command" -f -a "audit" -d 'Audit a whole registry against the policy: tags, labels, repository settings, replicas'
complete -c ecr-steward -n "__fish_ecr_steward_needs_command" -f -a "iam" -d 'Print IAM policies: what a CI pipeline needs to push and gate'
complete -c ecr-steward -n "__fish_ecr_steward_needs_command" -f -a "prune" -d 'Plan retention (the policy\'s `retention` sections) image by image; delete with --apply'
complete -c ecr-steward -n "__fish_ecr_steward_needs_command" -f -a "lifecycle" -d 'ECR native lifecycle policies from the policy\'s retention sections'
complete -c ecr-steward -n "__fish_ecr_steward_needs_command" -f -a "completions" -d 'Print the completion script for a shell (bash: `source <(ecr-steward completions bash)`)'
complete -c ecr-steward -n "__fish_ecr_steward_needs_command" -f -a "man" -d 'Print the man page of ecr-steward or of a command (`ecr-steward man policy validate | man -l -`)'
complete -c ecr-steward -n "__fish_ecr_steward_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand check" -l tag -d 'A tag to check (repeatable; `a,b` is two tags)' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand check" -l tags-file -d 'Tags or full references: docker/metadata-action\'s `tags` output (one a line, or comma-separated) or its `json` output, or a JSON list (`-` for stdin)' -r -F
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand check" -l repository -d 'The repository the tags are for; picks the policy rule. Taken from references when absent' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand check" -l policy -d 'Policy file (YAML or JSON), or where the functions read it: s3://BUCKET/KEY or ssm:NAME (in the environment\'s region); the built-in policy when absent' -r -F
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand check" -l labels -d 'Labels to check: an OCI image config, `docker inspect` output, metadata-action\'s `json` output, or key=value lines (`-` for stdin). Without it, labels are not checked' -r -F
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand check" -l format -r -f -a "text\t''
json\t''
github\t''
junit\t''
markdown\t''"
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand check" -l summary -d 'Also append the report as markdown to FILE (a job summary: `$GITHUB_STEP_SUMMARY`)' -r -F
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand check" -l strict -d 'Fail (exit 1) when no rule of the policy governs the repository, instead of a warning'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand check" -s h -l help -d 'Print help'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand gate" -l repository -d 'The ECR repository' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand gate" -l tag -d 'The image\'s tag' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand gate" -l digest -d 'The image\'s digest (sha256:…); every tag of the image is checked' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand gate" -l policy -d 'Policy file (YAML or JSON), or where the functions read it: s3://BUCKET/KEY or ssm:NAME (in the environment\'s region); the built-in policy when absent' -r -F
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand gate" -l wait -d 'Wait this long for the scan to complete (e.g. 90s, 10m), polling with backoff' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand gate" -l region -d 'AWS region; from the environment or profile when absent' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand gate" -l format -r -f -a "text\t''
json\t''
github\t''
junit\t''
markdown\t''"
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand gate" -l summary -d 'Also append the report as markdown to FILE (a job summary: `$GITHUB_STEP_SUMMARY`)' -r -F
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand gate" -l strict -d 'Fail (exit 1) when no rule of the policy governs the repository, instead of a warning'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand gate" -l require-provenance -d 'Judge the image\'s signatures, SBOMs and attestations even where the rule\'s `provenance` does not ask (where it has none: a signature, by any scheme)'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand gate" -s h -l help -d 'Print help'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand replicate" -l repository -d 'Repositories to copy from: a name or a glob (`team/*`, `**`)' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand replicate" -l to -d 'A destination region (repeatable); without it, the policy\'s replication rules decide destinations and tags' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand replicate" -l tag-pattern -d 'Only tags matching this regular expression (anchored)' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand replicate" -l policy -d 'Policy file (YAML or JSON), or where the functions read it: s3://BUCKET/KEY or ssm:NAME (in the environment\'s region); the built-in policy when absent' -r -F
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand replicate" -l region -d 'The source region; from the environment or profile when absent' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand replicate" -l upload-connections -d 'Spread the bodies of blob uploads over this many connections to each destination registry (1 to 16; 1: all on one connection)' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand replicate" -l jobs -d 'Images copied at once (their requests share each registry\'s throttling windows)' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand replicate" -l fan-out -d 'Copy nothing here: send one copy job per image to this SQS queue (the stack\'s output CopyJobQueueUrl), for the replicator to copy in parallel across Lambda instances' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand replicate" -l format -r -f -a "text\t''
json\t''"
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand replicate" -l create-repository -d 'With --to: create missing destination repositories'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand replicate" -l dry-run -d 'List what would be copied, and copy nothing'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand replicate" -l chunked-uploads -d 'Send each blob as a PATCH of its data and an empty PUT, for a registry that refuses the body on the PUT (by default a blob goes with its commit in one PUT)'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand replicate" -s h -l help -d 'Print help'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand wait" -l repository -d 'The source repository' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand wait" -l tag -d 'The image\'s tag' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand wait" -l digest -d 'The digest the tag must name everywhere (sha256:…); what it names in the source region when absent' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand wait" -l to -d 'A destination region (repeatable), same repository name; without it, the policy\'s replication rules name the destinations' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand wait" -l policy -d 'Policy file (YAML or JSON), or where the functions read it: s3://BUCKET/KEY or ssm:NAME (in the environment\'s region); the built-in policy when absent' -r -F
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand wait" -l timeout -d 'Wait at most this long (e.g. 90s, 10m), looking with backoff; one look when 0' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand wait" -l region -d 'The source region; from the environment or profile when absent' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand wait" -l format -r -f -a "text\t''
json\t''"
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand wait" -s h -l help -d 'Print help'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand policy; and not __fish_seen_subcommand_from validate parameter show-default help" -s h -l help -d 'Print help'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand policy; and not __fish_seen_subcommand_from validate parameter show-default help" -f -a "validate" -d 'Check a policy file, or the policy in S3 or SSM; prints what is wrong, with line and column'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand policy; and not __fish_seen_subcommand_from validate parameter show-default help" -f -a "parameter" -d 'Print a policy file as the stack\'s PolicyDocument parameter: validated, one line of JSON, refused when larger than an inline policy can be'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand policy; and not __fish_seen_subcommand_from validate parameter show-default help" -f -a "show-default" -d 'Print the built-in policy, a documented starting point'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand policy; and not __fish_seen_subcommand_from validate parameter show-default help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand policy; and __fish_seen_subcommand_from validate" -l strict -d 'Fail on warnings too (an expired ignore, a region this release does not know, a policy too large for some of the places it can be kept)'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand policy; and __fish_seen_subcommand_from validate" -s h -l help -d 'Print help'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand policy; and __fish_seen_subcommand_from parameter" -l format -d '`value`: the value alone; `sam`: a file for `sam deploy --parameter-overrides file://FILE.yaml` (SAM reads .yaml, .yml and .toml files)' -r -f -a "value\t'The value alone, one line of JSON: `--parameter-overrides "PolicyDocument=$(…)"`'
sam\t'A file for `sam deploy --parameter-overrides file://FILE.yaml` (JSON, which is YAML)'"
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand policy; and __fish_seen_subcommand_from parameter" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand policy; and __fish_seen_subcommand_from show-default" -s h -l help -d 'Print help'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "validate" -d 'Check a policy file, or the policy in S3 or SSM; prints what is wrong, with line and column'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "parameter" -d 'Print a policy file as the stack\'s PolicyDocument parameter: validated, one line of JSON, refused when larger than an inline policy can be'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "show-default" -d 'Print the built-in policy, a documented starting point'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand audit" -l repository -d 'The repositories to audit: a name or a glob (`team/*`, `**`)' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand audit" -l region -d 'A region to audit (repeatable); from the environment or profile when absent' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand audit" -l policy -d 'Policy file (YAML or JSON), or where the functions read it: s3://BUCKET/KEY or ssm:NAME (in the environment\'s region); the built-in policy when absent' -r -F
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand audit" -l format -r -f -a "text\t'A per-repository table, the worst offenders and every finding'
json\t'One document with stable field names'
csv\t'One row per finding'
markdown\t'A summary for a GitHub job summary or a wiki page'"
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand audit" -l max-images -d 'Judge at most this many images in all (by region, repository and digest)' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand audit" -l concurrency -d 'Registry reads at once (the ECR API calls: at most 16)' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand audit" -l check -d 'Only findings of this check, or of checks under it (`labels`, `tag.literals.deny`, `repository`, `replica`; repeatable). The totals still count every finding' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand audit" -l findings-only -d 'Only repositories with findings in the per-repository table'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand audit" -l strict -d 'Fail (exit 1) on warnings too: a --repository that matches nothing, repositories no rule governs, rules that govern none of the repositories'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand audit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand iam; and not __fish_seen_subcommand_from pipeline help" -s h -l help -d 'Print help'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand iam; and not __fish_seen_subcommand_from pipeline help" -f -a "pipeline" -d 'The least-privilege IAM policy a CI pipeline needs to push to repositories and, with --gate, to run `ecr-steward gate` on what it pushed'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand iam; and not __fish_seen_subcommand_from pipeline help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand iam; and __fish_seen_subcommand_from pipeline" -l repository -d 'A repository the pipeline pushes to: a name or a glob (`team/*`, `team/**`); repeatable' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand iam; and __fish_seen_subcommand_from pipeline" -l account -d 'The AWS account of the repositories (12 digits); `*` (any account) when absent' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand iam; and __fish_seen_subcommand_from pipeline" -l region -d 'The region of the repositories; `*` (any region) when absent' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand iam; and __fish_seen_subcommand_from pipeline" -l partition -d 'The ARN partition: `aws`, `aws-cn`, `aws-us-gov`' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand iam; and __fish_seen_subcommand_from pipeline" -l gate -d 'Also grant what `ecr-steward gate` reads: the images, their scan findings and the scanning settings'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand iam; and __fish_seen_subcommand_from pipeline" -s h -l help -d 'Print help'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand iam; and __fish_seen_subcommand_from help" -f -a "pipeline" -d 'The least-privilege IAM policy a CI pipeline needs to push to repositories and, with --gate, to run `ecr-steward gate` on what it pushed'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand iam; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand prune" -l repository -d 'Repositories to prune: a name or a glob (`team/*`, `**`; repeatable). Every repository whose rule has a retention section when absent' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand prune" -l policy -d 'Policy file (YAML or JSON), or where the functions read it: s3://BUCKET/KEY or ssm:NAME (in the environment\'s region); the built-in policy when absent' -r -F
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand prune" -l now -d 'Measure ages at this moment (RFC 3339) instead of now, for reproducible plans; with --apply it may not be later than the clock' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand prune" -l region -d 'AWS region; from the environment or profile when absent' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand prune" -l format -r -f -a "text\t''
json\t''"
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand prune" -l apply -d 'Delete what the plan expires (BatchDeleteImage, 100 a batch, each batch checked again just before). Without it, a dry run: nothing is deleted'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand prune" -l only-changes -d 'Text: list only the images that expire or are archived, not the ones kept'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand prune" -s h -l help -d 'Print help'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand lifecycle; and not __fish_seen_subcommand_from render help" -s h -l help -d 'Print help'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand lifecycle; and not __fish_seen_subcommand_from render help" -f -a "render" -d 'Render the part of a rule\'s retention that ECR\'s lifecycle policy can run without ever expiring an image ecr-steward keeps, and say what is left out and why (exit 1)'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand lifecycle; and not __fish_seen_subcommand_from render help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand lifecycle; and __fish_seen_subcommand_from render" -l repository -d 'The repository whose rule to render; the rule for every repository (`**`) when absent' -r
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand lifecycle; and __fish_seen_subcommand_from render" -l policy -d 'Policy file (YAML or JSON), or where the functions read it: s3://BUCKET/KEY or ssm:NAME (in the environment\'s region); the built-in policy when absent' -r -F
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand lifecycle; and __fish_seen_subcommand_from render" -l output -d 'Write the lifecycle policy document (what `aws ecr put-lifecycle-policy --lifecycle-policy-text file://FILE` takes) to FILE; nothing is written when no rule can be rendered' -r -F
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand lifecycle; and __fish_seen_subcommand_from render" -l format -d 'text: the document and what is left out; json: one document with both' -r -f -a "text\t''
json\t''"
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand lifecycle; and __fish_seen_subcommand_from render" -l referrers-untagged -d 'State that every referrer in these repositories (an image with a `subject`, or a cosign `sha256-<hex>.sig` tag) carries no other tag and is listed by no index, as cosign, Notation and ORAS push signatures and SBOMs. Only then can the `untagged` clause be rendered'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand lifecycle; and __fish_seen_subcommand_from render" -s h -l help -d 'Print help'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand lifecycle; and __fish_seen_subcommand_from help" -f -a "render" -d 'Render the part of a rule\'s retention that ECR\'s lifecycle policy can run without ever expiring an image ecr-steward keeps, and say what is left out and why (exit 1)'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand lifecycle; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand completions" -s h -l help -d 'Print help'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand man" -s h -l help -d 'Print help'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and not __fish_seen_subcommand_from check gate replicate wait policy audit iam prune lifecycle completions man help" -f -a "check" -d 'Check tags (and labels) against the policy before a push'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and not __fish_seen_subcommand_from check gate replicate wait policy audit iam prune lifecycle completions man help" -f -a "gate" -d 'Gate a pushed image: its tags and labels against the policy, its scan against the bar'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and not __fish_seen_subcommand_from check gate replicate wait policy audit iam prune lifecycle completions man help" -f -a "replicate" -d 'Copy images to other regions: a backfill, or a one-off copy'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and not __fish_seen_subcommand_from check gate replicate wait policy audit iam prune lifecycle completions man help" -f -a "wait" -d 'Wait until an image is present and complete (with its signatures) in other regions'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and not __fish_seen_subcommand_from check gate replicate wait policy audit iam prune lifecycle completions man help" -f -a "policy" -d 'Validate or print policy files'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and not __fish_seen_subcommand_from check gate replicate wait policy audit iam prune lifecycle completions man help" -f -a "audit" -d 'Audit a whole registry against the policy: tags, labels, repository settings, replicas'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and not __fish_seen_subcommand_from check gate replicate wait policy audit iam prune lifecycle completions man help" -f -a "iam" -d 'Print IAM policies: what a CI pipeline needs to push and gate'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and not __fish_seen_subcommand_from check gate replicate wait policy audit iam prune lifecycle completions man help" -f -a "prune" -d 'Plan retention (the policy\'s `retention` sections) image by image; delete with --apply'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and not __fish_seen_subcommand_from check gate replicate wait policy audit iam prune lifecycle completions man help" -f -a "lifecycle" -d 'ECR native lifecycle policies from the policy\'s retention sections'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and not __fish_seen_subcommand_from check gate replicate wait policy audit iam prune lifecycle completions man help" -f -a "completions" -d 'Print the completion script for a shell (bash: `source <(ecr-steward completions bash)`)'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and not __fish_seen_subcommand_from check gate replicate wait policy audit iam prune lifecycle completions man help" -f -a "man" -d 'Print the man page of ecr-steward or of a command (`ecr-steward man policy validate | man -l -`)'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and not __fish_seen_subcommand_from check gate replicate wait policy audit iam prune lifecycle completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "validate" -d 'Check a policy file, or the policy in S3 or SSM; prints what is wrong, with line and column'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "parameter" -d 'Print a policy file as the stack\'s PolicyDocument parameter: validated, one line of JSON, refused when larger than an inline policy can be'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "show-default" -d 'Print the built-in policy, a documented starting point'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and __fish_seen_subcommand_from iam" -f -a "pipeline" -d 'The least-privilege IAM policy a CI pipeline needs to push to repositories and, with --gate, to run `ecr-steward gate` on what it pushed'
complete -c ecr-steward -n "__fish_ecr_steward_using_subcommand help; and __fish_seen_subcommand_from lifecycle" -f -a "render" -d 'Render the part of a rule\'s retention that ECR\'s lifecycle policy can run without ever expiring an image ecr-steward keeps, and say what is left out and why (exit 1)'
