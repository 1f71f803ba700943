"""Creates a bucket on a local S3 server and uploads a directory's files under a prefix.
Run with the servers venv (boto3):  python s3_upload.py ENDPOINT BUCKET PREFIX DIR"""
import sys
from pathlib import Path

import boto3

endpoint, bucket, prefix, directory = sys.argv[1:5]
client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
client.create_bucket(Bucket=bucket)
for p in sorted(Path(directory).iterdir()):
    if p.is_file():
        client.upload_file(str(p), bucket, f"{prefix}/{p.name}")
