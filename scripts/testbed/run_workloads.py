"""Workloads on moto that run ECR images, for retention's `in_use` sources.

    run_workloads.py --lambda NAME=URI[,publish] --ecs-service CLUSTER/NAME=IMAGE ...

--lambda creates a function of package type Image from URI, and with `,publish` publishes it as
version 1. (moto's published versions share their code with $LATEST, so an update of $LATEST
would change version 1 too: a version running an older image than $LATEST cannot be made here.)
--ecs-service registers a task definition with one container of
IMAGE and creates a service of it (moto starts no tasks). The endpoint and credentials come from
the environment (the stack's env file). Prints one JSON line: what was created.
"""

import argparse
import json

import boto3

ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lambda", dest="functions", action="append", default=[])
    parser.add_argument("--ecs-service", dest="services", action="append", default=[])
    args = parser.parse_args()
    created = {"functions": [], "services": []}
    if args.functions:
        iam = boto3.client("iam")
        try:
            role = iam.get_role(RoleName="steward-test-function")["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            role = iam.create_role(
                RoleName="steward-test-function", AssumeRolePolicyDocument=ROLE_POLICY
            )["Role"]["Arn"]
        lam = boto3.client("lambda")
        for spec in args.functions:
            name, uri = spec.split("=", 1)
            uri, _, publish = uri.partition(",")
            lam.create_function(
                FunctionName=name,
                Role=role,
                PackageType="Image",
                Code={"ImageUri": uri},
            )
            versions = []
            if publish == "publish":
                versions.append(lam.publish_version(FunctionName=name)["Version"])
            created["functions"].append({"name": name, "versions": versions})
    if args.services:
        ecs = boto3.client("ecs")
        for spec in args.services:
            where, image = spec.split("=", 1)
            cluster, name = where.split("/", 1)
            ecs.create_cluster(clusterName=cluster)
            definition = ecs.register_task_definition(
                family=name,
                containerDefinitions=[{"name": name, "image": image, "memory": 128}],
            )["taskDefinition"]["taskDefinitionArn"]
            ecs.create_service(
                cluster=cluster, serviceName=name, taskDefinition=definition, desiredCount=1
            )
            created["services"].append({"cluster": cluster, "name": name})
    print(json.dumps(created))


if __name__ == "__main__":
    main()
