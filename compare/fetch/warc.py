"""Raw responses kept as WARC (warcio): written by each fetch run, read back by `compare ingest`.

Written: a warcinfo record, then a request and a response record per exchange, gzip per record (the
format Common Crawl and the Internet Archive use). Bodies are stored decoded, and Content-Encoding /
Transfer-Encoding / Content-Length are renamed X-Crawler-* as Common Crawl does since 2018, so a reader
never inflates anything. Our own fields say what a response was for: `Compare-Kind` (article, feed,
sitemap, robots, home), `Compare-Outlet`, `Compare-Language` and `Compare-Listed-Date` (the date the feed
or sitemap gave, used when the page carries none).

Read: every `response` record that is an article (ours: Compare-Kind article; a foreign WARC such as
CC-NEWS: any 200 text/html response) becomes one record for ingest, through the same field checks.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

from compare.fetch.extract import page_item

if TYPE_CHECKING:
    from compare.fetch.client import Exchange
    from compare.ingest.records import ReadItem

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc.gz")
# Headers whose value describes the bytes on the wire, not the decoded body we store.
_WIRE_HEADERS = ("content-encoding", "transfer-encoding", "content-length")
# Past this a record's payload is not read into memory (CC-NEWS truncates at 1 MiB; ours at max_body_bytes).
_MAX_RECORD_BYTES = 16 << 20


@dataclass(frozen=True)
class Label:
    """Why a URL is fetched: its source and what the feed or sitemap said about it."""

    outlet: str
    language: str | None = None
    listed_date: datetime | None = None
    title: str | None = None


class WarcArchive:
    """One run's WARC file, written as exchanges arrive (thread-safe); close() finishes it."""

    def __init__(self, path: Path, *, software: str, operator: str) -> None:
        from warcio.warcwriter import WARCWriter

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[bytes] = open(self.path, "wb")
        self._writer = WARCWriter(self._handle, gzip=self.path.name.endswith(".gz"))
        self._lock = threading.Lock()
        self.records = 0
        info = self._writer.create_warcinfo_record(self.path.name, {"software": software, "operator": operator, "format": "WARC File Format 1.1"})
        self._writer.write_record(info)

    def write(self, exchange: Exchange, kind: str, listing: Label | None = None) -> None:
        """A request/response pair; an exchange without a response (timeout, refused) writes nothing."""
        if exchange.status is None:
            return
        from warcio.statusandheaders import StatusAndHeaders

        parts = urlsplit(exchange.url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        request_headers = [("Host", parts.netloc), *[(k, v) for k, v in exchange.request_headers if k.lower() != "host"]]
        request_http = StatusAndHeaders(f"GET {target} HTTP/1.1", request_headers, is_http_request=True)
        response_headers = [(f"X-Crawler-{k}" if k.lower() in _WIRE_HEADERS else k, v) for k, v in exchange.response_headers]
        response_headers.append(("Content-Length", str(len(exchange.body))))
        protocol = "HTTP/2" if exchange.http_version.upper().startswith("HTTP/2") else "HTTP/1.1"
        response_http = StatusAndHeaders(f"{exchange.status} {exchange.reason or 'Unknown'}", response_headers, protocol=protocol)
        date = exchange.started.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        ours = {"Compare-Kind": kind}
        if exchange.truncated:
            ours["WARC-Truncated"] = exchange.truncated
        if exchange.error:
            ours["Compare-Error"] = " ".join(exchange.error.split())[:300]
        if listing is not None:
            ours["Compare-Outlet"] = listing.outlet
            if listing.language:
                ours["Compare-Language"] = listing.language
            if listing.listed_date is not None:
                ours["Compare-Listed-Date"] = listing.listed_date.isoformat()
        with self._lock:
            response = self._writer.create_warc_record(
                exchange.url, "response", payload=io.BytesIO(exchange.body), http_headers=response_http,
                warc_headers_dict={"WARC-Date": date, **ours},
            )
            request = self._writer.create_warc_record(
                exchange.url, "request", payload=io.BytesIO(b""), http_headers=request_http,
                warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")},
            )
            self._writer.write_record(request)
            self._writer.write_record(response)
            self.records += 2

    def copy(self, url: str, status_line: str, headers: list[tuple[str, str]], body: bytes, date: str | None, listing: Label) -> None:
        """A response read from another WARC (a CC-NEWS backfill), labelled with its source."""
        from warcio.statusandheaders import StatusAndHeaders

        response_headers = [(f"X-Crawler-{k}" if k.lower() in _WIRE_HEADERS else k, v) for k, v in headers]
        response_headers.append(("Content-Length", str(len(body))))
        ours = {"Compare-Kind": "article", "Compare-Outlet": listing.outlet}
        if listing.language:
            ours["Compare-Language"] = listing.language
        if date:
            ours["WARC-Date"] = date
        with self._lock:
            record = self._writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=StatusAndHeaders(status_line, response_headers, protocol="HTTP/1.1"),
                warc_headers_dict=ours,
            )
            self._writer.write_record(record)
            self.records += 1

    def close(self) -> None:
        with self._lock:
            self._handle.close()


@dataclass(frozen=True)
class WarcResponse:
    """One response record as read: enough to extract the article and to filter by host or date."""

    url: str
    status: int | None
    content_type: str
    headers: list[tuple[str, str]]
    status_line: str
    body: bytes
    date: str | None
    fields: Mapping[str, str]  # the WARC record's own headers (Compare-*, WARC-Truncated)

    @property
    def ours(self) -> bool:
        return "Compare-Kind" in self.fields

    @property
    def is_article(self) -> bool:
        """Ours: fetched as an article. Foreign: a complete 200 HTML page."""
        if self.ours:
            return self.fields.get("Compare-Kind") == "article" and self.status == 200 and "Compare-Error" not in self.fields
        return self.status == 200 and self.content_type in ("text/html", "application/xhtml+xml") and "WARC-Truncated" not in self.fields


def iter_responses(path: Path) -> Iterator[WarcResponse]:
    """Every response record of a WARC (gzip per record or not); a damaged file raises ArchiveLoadFailed
    or OSError after the records before the damage."""
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as handle:
        for record in ArchiveIterator(handle, arc2warc=True):
            if record.rec_type != "response" or record.http_headers is None:
                continue
            http = record.http_headers
            try:
                status = int(http.get_statuscode())
            except (TypeError, ValueError):
                status = None
            content_type = (http.get_header("Content-Type") or "").split(";")[0].strip().lower()
            body = record.content_stream().read(_MAX_RECORD_BYTES + 1)
            fields = {key: value for key, value in record.rec_headers.headers if key.startswith("Compare-") or key == "WARC-Truncated"}
            if len(body) > _MAX_RECORD_BYTES:
                fields["WARC-Truncated"] = "length"
            elif getattr(record.raw_stream, "limit", 0) > 0:
                # warcio hands out what there is of a record cut off by the end of the file
                raise OSError(f"record of {record.rec_headers.get_header('WARC-Target-URI')} is cut off by the end of the file")
            yield WarcResponse(
                url=record.rec_headers.get_header("WARC-Target-URI") or "",
                status=status, content_type=content_type, headers=list(http.headers), status_line=http.statusline,
                body=body, date=record.rec_headers.get_header("WARC-Date"), fields=fields,
            )


def read_warc(path: Path, *, min_text_chars: int | None = None) -> Iterator[ReadItem]:
    """The ingest reader for .warc / .warc.gz: one record per article response (line = its number
    among the file's response records), rejects for pages with too little text."""
    from compare.ingest.records import RecordProblem

    number = 0
    try:
        for response in iter_responses(path):
            number += 1
            if not response.is_article:
                continue
            listed = response.fields.get("Compare-Listed-Date")
            yield page_item(
                response.body, response.url, line=number,
                outlet=response.fields.get("Compare-Outlet"), language=response.fields.get("Compare-Language"),
                listed_date=listed, min_text_chars=min_text_chars,
            )
    except Exception as error:  # noqa: BLE001 - warcio raises its own and zlib/IO errors for a damaged file
        if not is_archive_damage(error):
            raise
        where = f" after record {number}" if number else ""
        yield RecordProblem(None, f"damaged WARC file{where}: {type(error).__name__}: {error}"[:300], is_record=False)


def is_archive_damage(error: Exception) -> bool:
    """Whether reading a WARC failed because the archive is cut off or corrupt (a reject), not a bug."""
    import zlib

    from warcio.exceptions import ArchiveLoadFailed

    return isinstance(error, ArchiveLoadFailed | OSError | EOFError | zlib.error | ValueError)


def now_stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
