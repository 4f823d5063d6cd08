import datetime
import hashlib
import io
import json
import os
import re

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from hardened_privacy.exceptions import ReviewManifestError
from hardened_privacy.internal.review_scan import code_only, glob_regex
from hardened_privacy.review import DEFAULT_MARKERS, record_review, review_status

TREE = {
    "shop/migrations/__init__.py": "",
    "shop/migrations/0001_initial.py": "# migration 1\n",
    "shop/views.py": "def index(request): ...\n",
    "shop/models.py": "class Order: ...\n",
    "shop/policies/orders.py": "def can_refund(user): ...\n",
    "shop/middleware.py": "class Gate: ...\n",
    "payments/webhooks.py": "def receive(request): ...\n",
    "payments/handlers/charge.py": "def handle(event): ...\n",
    "payments/decorators.py": "def signed(view): ...\n",
    ".venv/lib/site/views.py": "ignored\n",
    "node_modules/pkg/views.py": "ignored\n",
    "build/lib/views.py": "ignored\n",
    "shop/__pycache__/views.py": "ignored\n",
    "docs/views.md": "ignored\n",
    "shop/api.py": "@login_required\ndef orders(request): ...\n",
    "shop/billing.py": "event = stripe.Webhook.construct_event(body, sig, secret)\n",
    "shop/utils.py": "def login_required_soon(): ...\n",
    "shop/docs.py": '"""Use @login_required."""\n# stripe.Webhook here\nx = 1\n',
    "shop/broken.py": "@csrf_exempt\ndef broken(:\n",
    "shop/notes.txt": "@login_required\n",
    "build/api.py": "@login_required\n",
}

GATED = {
    "payments/decorators.py": "auth_gate",
    "payments/handlers/charge.py": "payment_handler",
    "payments/webhooks.py": "payment_handler",
    "shop/middleware.py": "auth_gate",
    "shop/migrations/0001_initial.py": "migration",
    "shop/policies/orders.py": "auth_gate",
    "shop/views.py": "auth_gate",
    "shop/api.py": "auth_gate",
    "shop/billing.py": "payment_handler",
    "shop/broken.py": "auth_gate",
}

DAY = datetime.date(2026, 12, 3)


@pytest.fixture
def project(tmp_path):
    for relative, content in TREE.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return tmp_path


def statuses(root):
    return {e.path: e.status for e in review_status(root)}


def run(root, *args, **kwargs):
    out = io.StringIO()
    call_command(
        "hardened_privacy_review", "--root", str(root), *args, stdout=out, **kwargs
    )
    return out.getvalue()


def manifest(root):
    return json.loads((root / "review-manifest.json").read_text())


def test_default_patterns_find_migrations_auth_gates_and_payment_handlers(project):
    entries = review_status(project)

    assert {e.path: e.category for e in entries} == GATED
    assert {e.status for e in entries} == {"new"}


def test_check_fails_listing_every_unreviewed_file(project):
    out = io.StringIO()

    with pytest.raises(CommandError, match="10 gated file\\(s\\) await review"):
        call_command("hardened_privacy_review", "--root", str(project), stdout=out)

    for path in GATED:
        assert path in out.getvalue()


def test_recording_every_file_makes_the_check_pass(project):
    record_review("Ada Lovelace", root=project, today=DAY)

    assert set(statuses(project).values()) == {"reviewed"}
    assert "All 10 gated file(s) are reviewed." in run(project)
    entry = manifest(project)["files"]["shop/views.py"]
    assert entry == {
        "sha256": hashlib.sha256(TREE["shop/views.py"].encode()).hexdigest(),
        "reviewer": "Ada Lovelace",
        "reviewed_on": "2026-12-03",
        "category": "auth_gate",
    }
    assert manifest(project)["version"] == 1


def test_changed_file_fails_until_its_review_is_recorded(project):
    record_review("Ada", root=project)
    (project / "shop/views.py").write_text("def index(request): return None\n")

    assert statuses(project)["shop/views.py"] == "changed"
    with pytest.raises(CommandError, match="1 gated file"):
        run(project)

    output = run(project, "shop/views.py", record=True, reviewer="Grace")

    assert "reviewed  changed  shop/views.py" in output
    assert manifest(project)["files"]["shop/views.py"]["reviewer"] == "Grace"
    assert manifest(project)["files"]["shop/middleware.py"]["reviewer"] == "Ada"
    run(project)


def test_new_file_fails_until_reviewed(project):
    record_review("Ada", root=project)
    (project / "shop/migrations/0002_refunds.py").write_text("# migration 2\n")

    assert statuses(project)["shop/migrations/0002_refunds.py"] == "new"
    with pytest.raises(CommandError):
        run(project)


def test_deleted_file_fails_until_the_deletion_is_reviewed(project):
    record_review("Ada", root=project)
    (project / "shop/middleware.py").unlink()

    assert statuses(project)["shop/middleware.py"] == "removed"
    with pytest.raises(CommandError):
        run(project)

    record_review("Grace", ["shop/middleware.py"], root=project)

    assert "shop/middleware.py" not in manifest(project)["files"]
    run(project)


def test_line_ending_changes_alone_need_no_review(project):
    record_review("Ada", root=project)
    path = project / "shop/views.py"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))

    assert statuses(project)["shop/views.py"] == "reviewed"


def test_retargeted_symlink_needs_review(project):
    (project / "shop/real_views.txt").write_text("a")
    (project / "shop/other.txt").write_text("b")
    (project / "shop/views").mkdir()
    link = project / "shop/views/linked.py"
    link.symlink_to(project / "shop/real_views.txt")
    record_review("Ada", root=project)
    link.unlink()
    link.symlink_to(project / "shop/other.txt")

    assert statuses(project)["shop/views/linked.py"] == "changed"


def test_hand_edited_hash_counts_as_changed(project):
    record_review("Ada", root=project)
    document = manifest(project)
    document["files"]["shop/views.py"]["sha256"] = "0" * 64
    (project / "review-manifest.json").write_text(json.dumps(document))

    assert statuses(project)["shop/views.py"] == "changed"


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"version": 2, "files": {}}',
        '{"version": 1, "files": []}',
        '{"version": 1, "files": {"a.py": {"sha256": "xyz", "reviewer": "A",'
        ' "reviewed_on": "2026-01-01"}}}',
        '{"version": 1, "files": {"a.py": {"sha256": "' + "a" * 64 + '",'
        ' "reviewer": "", "reviewed_on": "2026-01-01"}}}',
        '{"version": 1, "files": {"a.py": {"sha256": "' + "a" * 64 + '",'
        ' "reviewer": "A", "reviewed_on": "yesterday"}}}',
    ],
)
def test_malformed_manifest_fails_closed(project, content):
    (project / "review-manifest.json").write_text(content)

    with pytest.raises(ReviewManifestError):
        review_status(project)
    with pytest.raises(CommandError, match=r"review manifest|JSON"):
        run(project)


@pytest.mark.parametrize("reviewer", ["", "   ", "Ada\nFake: line", "x" * 101])
def test_invalid_reviewer_is_refused(project, reviewer):
    with pytest.raises(ReviewManifestError):
        record_review(reviewer, root=project)

    assert not (project / "review-manifest.json").exists()


@pytest.mark.parametrize(
    "path", ["shop/models.py", "../outside.py", "/etc/passwd", "missing/views.py"]
)
def test_only_pending_files_can_be_recorded(project, path):
    with pytest.raises(ReviewManifestError, match="Not awaiting review"):
        record_review("Ada", [path], root=project)


def test_already_reviewed_file_cannot_be_recorded_again(project):
    record_review("Ada", root=project)

    with pytest.raises(CommandError, match="Not awaiting review"):
        run(project, "shop/views.py", record=True, reviewer="Eve")

    assert manifest(project)["files"]["shop/views.py"]["reviewer"] == "Ada"


def test_absolute_and_dotted_paths_are_accepted(project):
    record_review(
        "Ada",
        [str(project / "shop/views.py"), "./shop/../shop/middleware.py"],
        root=project,
    )

    assert set(manifest(project)["files"]) == {"shop/views.py", "shop/middleware.py"}


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        ([], {"record": True, "reviewer": "Ada"}, "either file paths or --all"),
        (["shop/views.py"], {"record": True, "all": True, "reviewer": "A"}, "either"),
        (["shop/views.py"], {"record": True}, "--reviewer"),
        (["shop/views.py"], {}, "go with --record"),
    ],
)
def test_command_argument_errors(project, args, options, message):
    with pytest.raises(CommandError, match=message):
        run(project, *args, **options)


def test_command_records_all_and_prints_json(project):
    run(project, record=True, all=True, reviewer="Ada")

    entries = json.loads(run(project, json=True))

    assert len(entries) == 10
    assert {e["status"] for e in entries} == {"reviewed"}
    assert {e["reviewer"] for e in entries} == {"Ada"}


def test_manifest_location_comes_from_settings(project):
    with override_settings(HARDENED_PRIVACY_REVIEW_MANIFEST="ci/reviews.json"):
        record_review("Ada", root=project)
        assert set(statuses(project).values()) == {"reviewed"}

    assert (project / "ci/reviews.json").exists()
    assert not (project / "review-manifest.json").exists()


def test_patterns_and_exclusions_come_from_settings(project):
    with override_settings(
        HARDENED_PRIVACY_REVIEW_PATTERNS={"model": ["**/models.py"]},
        HARDENED_PRIVACY_REVIEW_EXCLUDE=[],
        HARDENED_PRIVACY_REVIEW_MARKERS={},
    ):
        assert {e.path: e.category for e in review_status(project)} == {
            "shop/models.py": "model"
        }
    with override_settings(HARDENED_PRIVACY_REVIEW_EXCLUDE=["payments/**"]):
        paths = {e.path for e in review_status(project)}
    assert not any(p.startswith("payments/") for p in paths)
    assert ".venv/lib/site/views.py" in paths


def test_content_markers_come_from_settings(project):
    with override_settings(
        HARDENED_PRIVACY_REVIEW_MARKERS={"secrets": [r"^def login_required_soon"]}
    ):
        categories = {e.path: e.category for e in review_status(project)}

    assert categories["shop/utils.py"] == "secrets"
    assert "shop/api.py" not in categories


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ('x = "@login_required"  # LoginRequiredMixin\n', "x ="),
        ('s = """a\n@csrf_exempt\n"""\ny = 2\n', "y = 2"),
        ("@login_required\ndef v(r): ...\n", "@login_required"),
    ],
)
def test_markers_match_code_not_strings_or_comments(source, code):
    text = code_only(source)

    assert code in text
    assert text.count("\n") == source.count("\n")
    assert "@login_required" not in text or code == "@login_required"
    assert "LoginRequiredMixin" not in text
    assert "csrf_exempt" not in text


def test_marker_added_to_an_ordinary_module_needs_review(project):
    record_review("Ada", root=project)
    (project / "shop/utils.py").write_text("@csrf_exempt\ndef hook(request): ...\n")

    assert statuses(project)["shop/utils.py"] == "new"


MARKED = [
    ("@login_required\ndef orders(request): ...\n", "auth_gate"),
    ("class Orders(LoginRequiredMixin, View): ...\n", "auth_gate"),
    (
        "class Gate:\n    def process_view(self, request, view, a, k): ...\n",
        "auth_gate",
    ),
    ("class Api:\n    permission_classes = [IsAdmin]\n", "auth_gate"),
    (
        "class Headers:\n"
        "    def __init__(self, get_response: Callable) -> None:\n"
        "        self.get_response = get_response\n",
        "auth_gate",
    ),
    (
        "class Headers(Base):\n"
        "    def __call__(self, request: HttpRequest) -> HttpResponse: ...\n",
        "auth_gate",
    ),
    (
        "class FreshMixin:\n    def dispatch(self, request, *args, **kwargs): ...\n",
        "auth_gate",
    ),
    (
        "def fresh(view):\n"
        "    @functools.wraps(view)\n"
        "    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any): ...\n"
        "    return wrapper\n",
        "auth_gate",
    ),
    ("def signed(view):\n    def inner(request, *args, **kw): ...\n", "auth_gate"),
    (
        "class Backend(BaseBackend):\n"
        "    def authenticate(self, request, token=None): ...\n",
        "auth_gate",
    ),
    ("class Subject:\n    def has_perm(self, perm): ...\n", "auth_gate"),
    ("def decide(user, action, obj): ...\n", "auth_gate"),
    ("def cached_is_allowed(user, action, obj): ...\n", "auth_gate"),
    ("def authorise(user, action): ...\n", "auth_gate"),
    ("rows = policies.allowed(user, 'view', Post)\n", "auth_gate"),
    ("event = stripe.Webhook.construct_event(body, sig, secret)\n", "payment_handler"),
    (
        "client = stripe.StripeClient(key)\nclient.payment_intents.create()\n",
        "payment_handler",
    ),
    (
        "stripe.WebhookSignature.verify_header(body, header, secret, 300)\n",
        "payment_handler",
    ),
    ("session = stripe.checkout.Session.create(mode='payment')\n", "payment_handler"),
    ("from stripe import StripeClient as Client\n", "payment_handler"),
    ("import stripe\n", "payment_handler"),
    ("event = construct_event(payload)\n", "payment_handler"),
    (
        "@webhooks.handler('charge.succeeded')\ndef paid(event): ...\n",
        "payment_handler",
    ),
    ("ledger.post_transfer(tenant, key, legs)\n", "payment_handler"),
    (
        "Order.objects.filter(pk=pk).update(status=Order.Status.PAID)\n",
        "payment_handler",
    ),
    ("checkout_completed.connect(order_paid)\n", "payment_handler"),
    ("signals.PaymentSucceeded.connect(ship)\n", "payment_handler"),
    (
        "@receiver(payments.signals.refund_created)\ndef note(**kw): ...\n",
        "payment_handler",
    ),
]
NOT_MARKED = [
    "class Cache:\n    def __call__(self, value): ...\n",
    "class Bus:\n    def dispatch(self, event): ...\n",
    "def handle(requests, *args): ...\n",
    "def is_allowed_host(host): ...\n",
    "def authenticated(user): ...\n",
    "state = Payout.Status.PAID_OUT\n",
    "import stripes\nimport stripe_like\n",
    "post_save.connect(bump)\n",
    "policies_allowed = 1\n",
    "# ledger.post_transfer(tenant, key, legs)\n",
    'help = "import stripe"\n',
]


@pytest.mark.parametrize(("source", "category"), MARKED)
def test_each_default_marker_gates_an_ordinary_module(tmp_path, source, category):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop/ordinary.py").write_text(source)

    assert {e.path: e.category for e in review_status(tmp_path)} == {
        "shop/ordinary.py": category
    }


@pytest.mark.parametrize("source", NOT_MARKED)
def test_look_alikes_of_the_markers_are_not_gated(tmp_path, source):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop/ordinary.py").write_text(source)

    assert review_status(tmp_path) == []


def test_every_default_marker_has_a_gated_example():
    for category, regexes in DEFAULT_MARKERS.items():
        examples = [code_only(source) for source, c in MARKED if c == category]
        for regex in regexes:
            pattern = re.compile(regex, re.MULTILINE)
            assert any(pattern.search(text) for text in examples), regex


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/migrations/*.py", "migrations/0001.py", True),
        ("**/migrations/*.py", "a/b/migrations/0001.py", True),
        ("**/migrations/*.py", "a/migrations/sub/0001.py", False),
        ("**/migrations/*.py", "a/migrations/0001.pyc", False),
        ("**/views.py", "views.py", True),
        ("**/views.py", "a/myviews.py", False),
        ("build/**", "build/x/y.py", True),
        ("build/**", "src/build/x.py", False),
        ("a?.py", "ab.py", True),
        ("a?.py", "a/.py", False),
        ("x[1].py", "x[1].py", True),
    ],
)
def test_glob_regex(pattern, path, matches):
    assert bool(glob_regex(pattern).match(path)) is matches


def test_manifest_write_is_atomic_and_leaves_no_temporary_files(project):
    record_review("Ada", root=project)

    leftovers = [n for n in os.listdir(project) if n.startswith(".review-")]
    assert leftovers == []
