"""A local HTTP stand-in for the parts of Stripe's API the flows call.

Stripe's API is out of reach from the test machines, so tests that exercise
:class:`~hardened_payments.internal.stripe_provider.StripeProvider` start this
server and point ``stripe.api_base`` at it. It answers with Stripe's object
shapes and records every request (path, form body, ``Idempotency-Key``), so a
test can count how many charges reached "Stripe".

Like Stripe, it remembers each ``Idempotency-Key`` per account (the platform,
or the connected account a ``Stripe-Account`` header names): a repeat with
the same endpoint and parameters gets the first answer again, declines
included, with ``Idempotent-Replayed: true``; a repeat with other parameters
gets 400 ``idempotency_error``; a repeat while the first is running gets 409.
Answers made up with ``fail_with`` (every request) or ``fail_on`` (requests
to one path) stand for requests that never reached the idempotency layer and
are not remembered.

Like Stripe Connect, it keeps each connected account's balance: transfers to
the account add to it, reversals and payouts (unless failed or canceled)
take from it, and a payout or reversal beyond it is refused with 400
``balance_insufficient``. ``GET /v1/payouts`` lists the payouts of the
account the ``Stripe-Account`` header names.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class StripeStandIn:
    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.requests: list[dict] = []
        self.payouts: dict[str, dict] = {}
        self.transfers: dict[str, dict] = {}
        self.reversals: dict[str, dict] = {}
        self.balance_transactions: list[dict] = []
        self.fail_with: int | None = None
        self.fail_on: dict[str, int] = {}
        self.idempotent: dict[tuple[str, str], tuple | None] = {}
        self._lock = threading.Lock()
        self._counter = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> "StripeStandIn":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def created(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST" and r["path"] == path]

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}_standin{self._counter:06d}"

    def _payment_intent(self, form: dict) -> tuple[int, dict]:
        method = form.get("payment_method", "")
        if method == "pm_card_chargeDeclined":
            return 402, {
                "error": {
                    "type": "card_error",
                    "code": "card_declined",
                    "message": "Your card was declined.",
                }
            }
        intent_id = self._next_id("pi")
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(form["amount"]),
            "currency": form["currency"],
            "status": "succeeded",
            "client_secret": f"{intent_id}_secret_standin",
            "next_action": None,
            "metadata": {},
        }
        if method == "pm_card_threeDSecure2Required":
            intent["status"] = "requires_action"
            intent["next_action"] = {"type": "use_stripe_sdk"}
        return 200, intent

    def _refund(self, form: dict) -> tuple[int, dict]:
        return 200, {
            "id": self._next_id("re"),
            "object": "refund",
            "amount": int(form["amount"]),
            "currency": "usd",
            "payment_intent": form["payment_intent"],
            "status": "succeeded",
        }

    def balance(self, account: str | None, currency: str = "usd") -> int:
        """What a connected account holds in ``currency``."""
        transfers = [
            t
            for t in self.transfers.values()
            if t["destination"] == account and t["currency"] == currency
        ]
        payouts = [
            p
            for p in self.payouts.values()
            if p["account"] == account
            and p["currency"] == currency
            and p["status"] not in ("failed", "canceled")
        ]
        funded = sum(int(t["amount"]) - int(t["amount_reversed"]) for t in transfers)
        return funded - sum(int(p["amount"]) for p in payouts)

    def _transfer(self, form: dict) -> tuple[int, dict]:
        transfer = {
            "id": self._next_id("tr"),
            "object": "transfer",
            "amount": int(form["amount"]),
            "amount_reversed": 0,
            "currency": form["currency"],
            "destination": form["destination"],
            "created": int(time.time()),
            "metadata": _metadata(form),
            "reversed": False,
        }
        with self._lock:
            self.transfers[transfer["id"]] = transfer
        return 200, transfer

    def _reversal(self, transfer_id: str, form: dict) -> tuple[int, dict]:
        amount = int(form["amount"])
        with self._lock:
            transfer = self.transfers.get(transfer_id)
            if transfer is None:
                return 404, {"error": {"type": "invalid_request_error"}}
            left = transfer["amount"] - transfer["amount_reversed"]
            held = self.balance(transfer["destination"], transfer["currency"])
            if amount > min(left, held):
                return 400, _balance_insufficient()
            transfer["amount_reversed"] += amount
            transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        reversal = {
            "id": self._next_id("trr"),
            "object": "transfer_reversal",
            "amount": amount,
            "currency": transfer["currency"],
            "transfer": transfer_id,
            "created": int(time.time()),
            "metadata": _metadata(form),
        }
        with self._lock:
            self.reversals[reversal["id"]] = reversal
        return 200, reversal

    def _payout(self, form: dict, account: str | None) -> tuple[int, dict]:
        payout = {
            "id": self._next_id("po"),
            "object": "payout",
            "amount": int(form["amount"]),
            "currency": form["currency"],
            "status": "pending",
            "created": int(time.time()),
            "metadata": _metadata(form),
            "account": account,
        }
        with self._lock:
            if payout["amount"] > self.balance(account, payout["currency"]):
                return 400, _balance_insufficient()
            self.payouts[payout["id"]] = payout
        return 200, payout

    def _checkout_session(self, form: dict) -> tuple[int, dict]:
        session_id = self._next_id("cs_test")
        metadata = {
            key[len("metadata[") : -1]: value
            for key, value in form.items()
            if key.startswith("metadata[")
        }
        return 200, {
            "id": session_id,
            "object": "checkout.session",
            "mode": form.get("mode"),
            "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
            "currency": form["line_items[0][price_data][currency]"],
            "client_reference_id": form.get("client_reference_id"),
            "metadata": metadata,
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"),
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }

    def _list(self, params: dict, objects: list[dict], url: str) -> dict:
        low = int(params.get("created[gte]", 0))
        high = int(params.get("created[lt]", 2**62))
        rows = [t for t in objects if low <= t["created"] < high]
        after = params.get("starting_after")
        if after:
            ids = [t["id"] for t in rows]
            rows = rows[ids.index(after) + 1 :]
        limit = int(params.get("limit", 10))
        return {
            "object": "list",
            "url": url,
            "data": rows[:limit],
            "has_more": len(rows) > limit,
        }

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return None

            def _answer(self, status: int, body: dict, replayed: bool = False) -> None:
                encoded = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if replayed:
                    self.send_header("Idempotent-Replayed", "true")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            def _record(self, form: dict) -> None:
                with standin._lock:
                    standin.requests.append(
                        {
                            "method": self.command,
                            "path": self.path.split("?")[0],
                            "form": form,
                            "idempotency_key": self.headers.get("Idempotency-Key"),
                            "authorization": self.headers.get("Authorization"),
                            "stripe_account": self.headers.get("Stripe-Account"),
                        }
                    )

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                self._record(form)
                time.sleep(standin.delay)
                failure = standin.fail_with or standin.fail_on.get(self.path)
                if failure:
                    return self._answer(failure, {"error": {"type": "api_error"}})
                key = self.headers.get("Idempotency-Key")
                if not key:
                    return self._answer(*self._create(form))
                scope = (self.headers.get("Stripe-Account") or "platform", key)
                request = (self.path, form)
                with standin._lock:
                    seen = scope in standin.idempotent
                    first = standin.idempotent.get(scope)
                    if not seen:
                        standin.idempotent[scope] = None
                if first is not None:
                    path, params, status, body = first
                    if (path, params) != request:
                        return self._answer(400, _idempotency_error("parameters"))
                    return self._answer(status, body, replayed=True)
                if seen:
                    return self._answer(409, _idempotency_error("in progress"))
                status, body = self._create(form)
                with standin._lock:
                    standin.idempotent[scope] = (*request, status, body)
                return self._answer(status, body)

            def _create(self, form: dict) -> tuple[int, dict]:
                if self.path == "/v1/payment_intents":
                    return standin._payment_intent(form)
                if self.path == "/v1/checkout/sessions":
                    return standin._checkout_session(form)
                if self.path == "/v1/refunds":
                    return standin._refund(form)
                if self.path == "/v1/payouts":
                    account = self.headers.get("Stripe-Account")
                    return standin._payout(form, account)
                if self.path == "/v1/transfers":
                    return standin._transfer(form)
                parts = self.path.split("/")
                if len(parts) == 5 and parts[1:3] + parts[4:] == [
                    "v1",
                    "transfers",
                    "reversals",
                ]:
                    return standin._reversal(parts[3], form)
                return 404, {"error": {"type": "invalid_request_error"}}

            def do_GET(self):
                path, _, query = self.path.partition("?")
                params = {k: v[0] for k, v in parse_qs(query).items()}
                self._record(params)
                time.sleep(standin.delay)
                if path == "/v1/balance_transactions":
                    rows = standin.balance_transactions
                    return self._answer(200, standin._list(params, rows, path))
                if path == "/v1/payouts":
                    account = self.headers.get("Stripe-Account")
                    rows = [
                        p for p in standin.payouts.values() if p["account"] == account
                    ]
                    return self._answer(200, standin._list(params, rows, path))
                if path.startswith("/v1/payouts/"):
                    payout = standin.payouts.get(path.rsplit("/", 1)[1])
                    account = self.headers.get("Stripe-Account")
                    if payout is not None and payout["account"] == account:
                        return self._answer(200, payout)
                return self._answer(404, {"error": {"type": "invalid_request_error"}})

        return Handler


def _idempotency_error(why: str) -> dict:
    messages = {
        "parameters": "Keys for idempotent requests can only be used with the "
        "same parameters they were first used with.",
        "in progress": "There is currently another in-progress request using "
        "this Idempotent Key.",
    }
    return {"error": {"type": "idempotency_error", "message": messages[why]}}


def _balance_insufficient() -> dict:
    return {
        "error": {
            "type": "invalid_request_error",
            "code": "balance_insufficient",
            "message": "You have insufficient funds in your Stripe account.",
        }
    }


def _metadata(form: dict) -> dict:
    return {
        key[len("metadata[") : -1]: value
        for key, value in form.items()
        if key.startswith("metadata[")
    }
