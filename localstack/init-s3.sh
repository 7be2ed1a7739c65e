#!/bin/bash
# LocalStack ready hook (mounted into /etc/localstack/init/ready.d/ by docker-compose.yml):
# creates the application's bucket once S3 accepts requests. LocalStack keeps no state between
# container starts here, so this runs on every start and tolerates a bucket that exists.
set -euo pipefail

bucket=${ALETHEIA_S3_BUCKET:-aletheia}

if awslocal s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
  echo "bucket $bucket already exists"
else
  awslocal s3api create-bucket --bucket "$bucket" >/dev/null
  echo "created bucket $bucket"
fi
