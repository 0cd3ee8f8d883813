"""S3 multipart uploads never completed: listed and aborted by ``store gc``.

Why: s3fs aborts a multipart upload that fails, but one whose process was killed, or
whose endpoint died mid-upload (so the abort failed too), stays, and S3 keeps and bills
its parts until someone aborts it. Mixed into :class:`~nbprod.store.backend.Backend`.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any


class MultipartUploads:
    def incomplete_uploads(self, older_than_s: float = 0.0, *, now: float | None = None) -> list[dict[str, Any]]:
        """Multipart uploads under this store started more than ``older_than_s`` ago and
        never completed nor aborted: ``{key, size, age_s, why, upload_id}`` (``size``: the
        parts uploaded, which S3 keeps and bills until the upload is aborted). s3fs aborts
        a multipart upload that fails; one whose process was killed, or whose endpoint
        died mid-upload (so the abort failed too), stays. Empty for other stores."""
        if not self.bucket:
            return []
        now = time.time() if now is None else now
        prefix = f"{self.root.split('/', 1)[1]}/" if "/" in self.root else ""
        rows, page = [], {"IsTruncated": True}
        with self._errors("listing incomplete multipart uploads"):
            while page.get("IsTruncated"):
                more = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]} \
                    if "NextKeyMarker" in page else {}
                page = self.fs.call_s3("list_multipart_uploads", Bucket=self.bucket, Prefix=prefix, **more)
                for upload in page.get("Uploads", []):
                    age = now - upload["Initiated"].timestamp()
                    if age < older_than_s:
                        continue  # may be an upload running right now
                    parts = self.fs.call_s3("list_parts", Bucket=self.bucket, Key=upload["Key"],
                                            UploadId=upload["UploadId"]).get("Parts", [])
                    rows.append({"key": upload["Key"][len(prefix):], "upload_id": upload["UploadId"],
                                 "size": sum(p.get("Size", 0) for p in parts), "age_s": round(age),
                                 "why": f"incomplete multipart upload {upload['UploadId']}"})
        return sorted(rows, key=lambda r: (r["key"], r["upload_id"]))

    def abort_upload(self, key: str, upload_id: str) -> None:
        """Abort one incomplete multipart upload (its parts are freed; ``key`` itself,
        which a later upload may have completed, is untouched). Gone already: nothing to do."""
        with self._errors(f"aborting the upload of {key}"):
            with contextlib.suppress(FileNotFoundError):
                self.fs.call_s3("abort_multipart_upload", Bucket=self.bucket,
                                Key=self._path(key).split("/", 1)[1], UploadId=upload_id)
