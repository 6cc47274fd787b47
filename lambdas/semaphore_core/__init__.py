"""Code shared by every Lambda that reads or writes a semaphore's lock item (see docs/lock-item.md).

Only the standard library and boto3/botocore, which the Lambda runtime ships, so bundles stay tiny.
"""
