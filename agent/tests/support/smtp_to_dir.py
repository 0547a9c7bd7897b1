#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) for the email sink tests.

Usage: smtp_to_dir.py OUTDIR [REPLY_CODE ...]

Listens on 127.0.0.1 on a free port and prints that port on stdout, then
serves until killed. Each mail is written to OUTDIR/NNNN.json (atomically,
before the server replies 250) with the envelope and the decoded subject,
headers and text body. REPLY_CODEs (e.g. 451 554) answer the first DATA
commands with that code instead, to test retries and rejections.
"""

import asyncio
import email
import email.policy
import json
import os
import pathlib
import sys

from aiosmtpd.smtp import SMTP


class DirHandler:
    def __init__(self, outdir, reply_codes):
        self.outdir = outdir
        self.reply_codes = list(reply_codes)
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.reply_codes:
            code = self.reply_codes.pop(0)
            return f"{code} scripted reply from the test server"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "content_type": message.get_content_type(),
            "body": body.get_content().replace("\r\n", "\n") if body is not None else None,
        }
        self.count += 1
        path = self.outdir / f"{self.count:04}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record))
        os.replace(temporary, path)
        return "250 Message accepted"


async def main():
    outdir = pathlib.Path(sys.argv[1])
    handler = DirHandler(outdir, sys.argv[2:])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
