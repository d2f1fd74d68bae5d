"""The service desk in a real browser, customer and laboratory side by side: frank finds the
laboratory's DC-voltage CMC in the public search and books a calibration against it, carol
(approver) quotes, frank accepts, carol records the payment, alice (technician) receives the
item and starts; frank follows every dated step; another customer gets the "not found" page
for frank's order; a complaint is handled by a person independent of the work (the performer
is refused); alice runs the calibration on the simulated bench from the order's page and
makes its draft for the order, bob checks and carol issues it on the certificate queue,
carol completes the order; frank finds the certificate among his, verifies it through the
address its QR code prints, and evaluates the service once.

The tests of this module run in order on one portal (one order's life)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from pypdf import PdfReader

from labctl.cli.demo import LAB, PASSWORD
from tests.browser.conftest import assert_accessible, fill_run_start, shot, sign_in

STATE: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def patient(page: Any) -> None:
    """Longer waits than the fixture's 5 s: these pages run the desk's services on a machine
    shared with other jobs (a load of 5-7 on two cores was seen)."""
    page.set_default_timeout(15_000)


@pytest.fixture(scope="module")
def cmc_id(portal: Any) -> int:
    """LAB's published DC-voltage CMC (what the public capability page links to book)."""
    found = portal.api.call("GET", f"/capabilities?organisation={LAB}&quantity=DC%20voltage")
    [cmc] = found["items"]
    return int(cmc["id"])


@pytest.fixture(scope="module")
def other_customer(portal: Any) -> str:
    """A second customer organisation with its person (created by the administrator)."""
    portal.api.call("POST", "/organisations", who="admin", body={
        "code": "CUST2", "name": "Other Instruments plc", "level": "industry",
        "parent_code": "PROV"})
    portal.api.call("POST", "/organisations/CUST2/users", who="admin", body={
        "username": "olga", "full_name": "Olga Other", "password": PASSWORD,
        "roles": ["customer"]})
    return "olga"


def _order_id(page: Any) -> int:
    return int(page.url.split("/my/orders/")[1].split("?")[0])


def test_frank_books_a_calibration_errors_next_to_fields(page: Any, portal: Any,
                                                         cmc_id: int) -> None:
    # frank finds the service in the public search, not yet signed in
    page.goto(f"{portal.url}/")
    page.get_by_label("Quantity").select_option("DC voltage")
    page.get_by_role("button", name="Search").click()
    page.locator(f"table.results a[href='/capabilities/{cmc_id}']").click()
    page.wait_for_url(f"**/capabilities/{cmc_id}")
    page.get_by_role("link", name="Book a calibration").click()
    # booking needs an account: signing in leads back to the booking form
    page.locator("main").get_by_role("link", name="Sign in").click()
    page.get_by_label("Username").fill("frank")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/my/orders/new?capability={cmc_id}")
    assert page.get_by_label("From (V)").input_value() == "-1000"  # prefilled from the CMC
    assert page.get_by_label("To (V)").input_value() == "1000"
    assert "0.000001 × |value| + 0.0000002 V (k = 2)" in page.inner_text("main")  # no 2E-7
    page.get_by_label("Description").fill("Digital multimeter")
    page.get_by_label("Manufacturer (optional)").fill("Keysight")
    page.get_by_label("Model (optional)").fill("34465A")
    page.get_by_label("From (V)").fill("0")
    page.get_by_label("To (V)").fill("5000")  # beyond the CMC
    page.get_by_label("Notes for the laboratory (optional)").fill("Points 1 V and 10 V.")
    assert_accessible(page)
    shot(page, "booking-form")
    page.get_by_role("button", name="Book the calibration").click()
    assert "within the laboratory's range" in page.locator("#range_max-error").inner_text()
    assert page.get_by_label("To (V)").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Description").input_value() == "Digital multimeter"  # kept
    page.get_by_label("To (V)").fill("nan")
    page.get_by_role("button", name="Book the calibration").click()
    assert page.locator("#range_max-error").is_visible()
    page.get_by_label("To (V)").fill("10")
    page.get_by_role("button", name="Book the calibration").click()
    assert "serial number" in page.locator("#item_serial_number-error").inner_text()
    assert_accessible(page)
    # the multimeter frank sends is the one on the laboratory's simulated bench
    page.get_by_label("Serial number").fill(portal.sim.truth()["dmm"]["serial"])
    page.get_by_role("button", name="Book the calibration").click()
    page.wait_for_url("**/my/orders/*?booked=1")
    assert "order is placed" in page.get_by_role("status").inner_text()
    STATE["order"] = order = _order_id(page)
    steps = page.locator("ol.steps li")
    assert "Order placed" in steps.nth(0).inner_text()
    assert "Frank Meyer" in steps.nth(0).inner_text()
    assert "to come" in steps.nth(1).inner_text()
    page.goto(f"{portal.url}/my/orders")
    assert page.get_by_role("link", name=f"Order {order}").is_visible()
    assert page.locator("tbody tr").count() == 1
    shot(page, "my-orders")


def test_only_the_approver_quotes_then_frank_accepts(page: Any, portal: Any) -> None:
    order = STATE["order"]
    sign_in(page, portal.url, "alice", PASSWORD)
    page.goto(f"{portal.url}/staff/orders/{order}")
    quote = page.get_by_role("button", name="Send the quote")
    assert quote.is_disabled()
    assert "approver" in page.locator("#why-quote").inner_text()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, portal.url, "carol", PASSWORD)
    page.goto(f"{portal.url}/staff/orders")
    assert page.get_by_role("link", name="To quote (1)").get_attribute("aria-current") == "page"
    row = page.get_by_role("row").filter(has_text=f"Order {order}")
    assert "Example Instruments Ltd" in row.inner_text()
    assert_accessible(page)
    shot(page, "staff-order-queue")
    row.get_by_role("link", name=f"Order {order}").click()
    page.get_by_label("Price").fill("-5")
    until = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    page.get_by_label("Valid until").fill(until)
    page.get_by_role("button", name="Send the quote").click()
    assert "price above 0" in page.locator("#quote-amount-error").inner_text()
    page.get_by_label("Price").fill("1200.50")
    page.get_by_role("button", name="Send the quote").click()
    page.wait_for_load_state()
    assert "Quoted" in page.get_by_role("heading", level=1).inner_text()
    assert_accessible(page)
    shot(page, "staff-order")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, portal.url, "frank", PASSWORD)
    page.goto(f"{portal.url}/my/orders/{order}")
    assert "1200.50 CNY" in page.inner_text("main")
    page.get_by_role("button", name="Accept the quote").click()
    page.wait_for_load_state()
    assert "Confirmed" in page.get_by_role("heading", level=1).inner_text()


def test_payment_receipt_and_start_then_frank_sees_every_step(page: Any, portal: Any) -> None:
    order = STATE["order"]
    sign_in(page, portal.url, "carol", PASSWORD)
    page.goto(f"{portal.url}/staff/orders/{order}")
    page.get_by_label("Payment reference").fill("BANK-2026-0042")
    page.get_by_role("button", name="Record the payment").click()
    page.wait_for_load_state()
    assert "Payment received" in page.get_by_role("heading", level=1).inner_text()
    # receiving is a technician's step: carol sees it disabled, with the reason
    assert page.get_by_role("button", name="Record receipt of the item").is_disabled()
    assert "technician" in page.locator("#why-receive").inner_text()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, portal.url, "alice", PASSWORD)
    page.goto(f"{portal.url}/staff/orders/{order}")
    page.get_by_label("Condition on receipt").fill("Good; scratch on the front panel.")
    page.get_by_role("button", name="Record receipt of the item").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Start the calibration").click()
    page.wait_for_load_state()
    assert "In progress" in page.get_by_role("heading", level=1).inner_text()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, portal.url, "frank", PASSWORD)
    page.goto(f"{portal.url}/my/orders/{order}")
    text = page.locator("ol.steps").inner_text()
    for step, who in (("Order placed", "Frank Meyer"), ("Quote sent", "Carol Becker"),
                      ("Quote accepted", "Frank Meyer"), ("Payment received", "Carol Becker"),
                      ("Item received", "Alice Weber"), ("Calibration started", "Alice Weber")):
        line = next(x for x in text.splitlines() if x.startswith(step))
        assert f"by {who}" in line and "UTC" in line, line
    assert "scratch on the front panel" in page.inner_text("main")
    # the timeline the page refreshes while the order is open
    progress = page.request.get(f"{portal.url}/my/orders/{order}/progress")
    assert progress.ok and "Calibration started" in progress.text()
    assert "<html" not in progress.text()
    assert page.get_by_role("button", name="Cancel the order").count() == 0  # work started
    assert_accessible(page)
    shot(page, "order-page")


def test_another_customer_gets_not_found_for_franks_order(page: Any, portal: Any,
                                                          other_customer: str) -> None:
    order = STATE["order"]
    sign_in(page, portal.url, other_customer, PASSWORD)
    unknown = page.goto(f"{portal.url}/my/orders/987654")
    assert unknown is not None and unknown.status == 404
    unknown_text = page.inner_text("main")
    response = page.goto(f"{portal.url}/my/orders/{order}")
    assert response is not None and response.status == 404
    assert page.inner_text("main") == unknown_text  # nothing tells it exists
    assert "Digital multimeter" not in page.content()
    progress = page.request.get(f"{portal.url}/my/orders/{order}/progress")
    assert progress.status == 404 and "Order placed" not in progress.text()
    for url in (f"/staff/orders/{order}", f"/my/complaints/new?order={order}"):
        response = page.goto(f"{portal.url}{url}")
        assert response is not None and response.status == 404
    # nor can they act on it: a forged accept or cancel changes nothing
    csrf = page.goto(f"{portal.url}/my") and page.locator("input[name=csrf]").first \
        .get_attribute("value")
    for step, form in (("cancel", {"reason": "mine now"}), ("accept", {})):
        r = page.request.post(f"{portal.url}/my/orders/{order}/{step}",
                              form={"csrf": csrf, **form}, headers={"Accept": "text/html"})
        assert r.status == 404
    # a complaint needs an order of theirs or a laboratory they dealt with, said at the field
    page.goto(f"{portal.url}/my/complaints/new")
    page.get_by_label("Subject").fill("Who are you?")
    page.get_by_label("What went wrong?").fill("Testing.")
    page.get_by_role("button", name="File the complaint").click()
    assert "order or the laboratory" in page.locator("#laboratory-error").inner_text()
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, portal.url, "frank", PASSWORD)
    page.goto(f"{portal.url}/my/orders/{order}")
    assert "In progress" in page.get_by_role("heading", level=1).inner_text()


def test_complaint_is_handled_by_an_independent_person(page: Any, portal: Any) -> None:
    order = STATE["order"]
    sign_in(page, portal.url, "frank", PASSWORD)
    page.goto(f"{portal.url}/my/orders/{order}")
    page.get_by_role("link", name="File a complaint about this order").click()
    page.get_by_role("button", name="File the complaint").click()
    assert "short subject" in page.locator("#subject-error").inner_text()
    page.get_by_label("Subject").fill("Item received with a scratch")
    page.get_by_label("What went wrong?").fill("The front panel was scratched in your "
                                               "laboratory.")
    page.get_by_role("button", name="File the complaint").click()
    page.wait_for_url("**/my/complaints/*?filed=1")
    complaint = int(page.url.split("/my/complaints/")[1].split("?")[0])
    STATE["complaint"] = complaint
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, portal.url, "carol", PASSWORD)
    page.goto(f"{portal.url}/staff/complaints/{complaint}")
    took_part = page.locator("section[aria-labelledby=took-part-h]").inner_text()
    assert "Alice Weber — received the item" in took_part
    assert "Carol Becker — quoted the order" in took_part
    alice = page.locator("#handler option", has_text="Alice Weber")
    assert alice.is_disabled() and "took part in the work" in alice.inner_text()
    assert_accessible(page)
    # a forged form naming the performer is refused by the service; nothing changes
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    r = page.request.post(f"{portal.url}/staff/complaints/{complaint}/assign",
                          form={"csrf": csrf, "handler": "alice"},
                          headers={"Accept": "text/html"})
    assert r.status == 403 and "Not allowed" in r.text()
    # said in words (the rule, not the service's internal action name), the service's own
    # message folded away as the technical detail
    assert "took no part in the work complained about" in r.text()
    assert "complaint.assign" not in r.text().split("<details")[0]
    page.reload()
    assert "not yet assigned" in page.inner_text("main")
    page.get_by_label("Person to handle the complaint").select_option("erin")
    page.get_by_role("button", name="Assign the handler").click()
    page.wait_for_load_state()
    assert "Erin Wagner" in page.inner_text("main")
    # carol is not the handler: she cannot investigate
    assert page.get_by_role("button", name="Start the investigation").is_disabled()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, portal.url, "erin", PASSWORD)
    page.goto(f"{portal.url}/staff/complaints/{complaint}")
    page.get_by_role("button", name="Start the investigation").click()
    page.wait_for_load_state()
    page.get_by_label("Answer to the customer").fill(
        "We found the scratch on receipt (recorded); our handling did not cause it. We have "
        "photographed the panel for you.")
    page.get_by_role("button", name="Send the answer").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, portal.url, "frank", PASSWORD)
    page.goto(f"{portal.url}/my/complaints/{complaint}")
    assert "photographed the panel" in page.inner_text("main")
    steps = page.locator("ol.steps").inner_text()
    assert "Handler assigned" in steps and "Answer given" in steps and "Erin Wagner" in steps
    assert_accessible(page)
    shot(page, "complaint-page")
    page.get_by_role("button", name="Close the complaint").click()
    page.wait_for_load_state()
    assert "Closed" in page.get_by_role("heading", level=1).inner_text()


@pytest.mark.timeout(150)
def test_run_on_the_bench_issued_verified_by_qr_completed_and_evaluated(page: Any, portal: Any,
                                                           cmc_id: int) -> None:
    order = STATE["order"]
    api = portal.api
    serial = portal.sim.truth()["dmm"]["serial"]
    # alice runs the calibration on the simulated bench from the order's page
    sign_in(page, portal.url, "alice", PASSWORD)
    page.goto(f"{portal.url}/staff/orders/{order}")
    page.get_by_role("link", name="Run the calibration on a bench").click()
    page.wait_for_url(f"**/staff/runs?order={order}")
    assert f"For order {order} of Example Instruments Ltd" in page.locator("#for-order") \
        .inner_text()
    assert page.get_by_label("Item serial number").input_value() == serial  # from the order
    fill_run_start(page, checker="bob", ranges="10", settle_time="0.5")
    page.wait_for_url("**/staff/runs/*?done=started*")
    run_id = page.url.split("/staff/runs/")[1].split("?")[0]
    deadline = time.monotonic() + 60
    while (status := api.call("GET", f"/runs/{run_id}", who="alice")["status"]) in (
            "created", "running", "held", "stopping") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert status == "completed", status
    page.reload()  # the draft form appears once the run is completed, the order chosen
    assert page.get_by_label("For order").input_value() == str(order)
    page.get_by_label("Method").fill("Direct comparison with a calibrator")
    page.get_by_label("Location").fill("Laboratory, room 1")
    page.get_by_role("button", name="Make the draft").click()
    notice = page.get_by_role("status").inner_text()
    assert f"It is linked to order {order}" in notice, notice
    number = notice.split("Draft certificate ")[1].split(" ")[0]
    draft = api.call("GET", f"/certificates/{number}", who="alice")
    assert draft["item_serial_number"] == serial  # the order's item, by the link
    assert draft["customer_name"] == "Example Instruments Ltd" and draft["receipt_date"]
    page.goto(f"{portal.url}/staff/orders/{order}")
    assert number in page.inner_text("main")
    page.get_by_role("button", name="Sign out").click()

    # bob checks and carol issues on the certificate queue
    sign_in(page, portal.url, "bob", PASSWORD)
    page.goto(f"{portal.url}/staff/certificates/queue")
    page.locator(f"#cert-{number}").get_by_role("button", name="Check").click()
    assert f"Certificate {number} is checked" in page.get_by_role("status").inner_text()
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, portal.url, "carol", PASSWORD)
    page.goto(f"{portal.url}/staff/certificates/queue")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#cert-{number}").get_by_role("button", name="Issue").click()
    assert f"Certificate {number} is issued" in page.get_by_role("status").inner_text()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, portal.url, "carol", PASSWORD)
    page.goto(f"{portal.url}/staff/orders/{order}")
    page.get_by_role("button", name="Complete the order").click()
    page.wait_for_load_state()
    assert "Completed" in page.get_by_role("heading", level=1).inner_text()
    page.get_by_role("button", name="Sign out").click()

    # frank finds the certificate among his, and verifies it through its QR code's link
    sign_in(page, portal.url, "frank", PASSWORD)
    page.goto(f"{portal.url}/my/certificates")
    row = page.get_by_role("row").filter(has_text=number)
    assert "Issued" in row.inner_text() and serial in row.inner_text()
    with page.expect_download() as pdf:
        row.get_by_role("link", name=f"PDF of certificate {number}").click()
    text = re.sub(r"\s+", "", "".join(
        p.extract_text() for p in PdfReader(pdf.value.path()).pages))
    printed = f"{portal.settings.public_url}/verify/{number}"  # the QR code's target
    assert f"Verifythiscertificate:{printed}" in text
    assert serial in text and "ExampleInstrumentsLtd" in text  # the order's item, customer
    page.goto(f"{portal.url}{urlsplit(printed).path}")
    assert "Genuine and current" in page.locator(".verdict").inner_text()
    page.goto(f"{portal.url}/my/orders/{order}")
    assert page.get_by_role("link", name="Download the PDF").is_visible()
    second = page.context.new_page()  # the same form, open twice
    second.goto(f"{portal.url}/my/orders/{order}")
    form = page.locator("form[action$='/evaluate']")
    form.get_by_role("button", name="Send my evaluation").click()  # nothing chosen
    for dimension, score in (("Fit of the service to your need", "5 excellent"),
                             ("Technical competence", "5 excellent"),
                             ("Timeliness", "3 good"), ("Overall satisfaction", "4 very good"),
                             ("Effectiveness of the result", "5 excellent")):
        page.get_by_role("group", name=dimension).get_by_label(score).check()
    assert_accessible(page)
    page.get_by_label("Anything else you want to tell the laboratory").fill("Fast and clear.")
    page.get_by_role("button", name="Send my evaluation").click()
    page.wait_for_load_state()
    assert "evaluated once" in page.inner_text("main")
    assert "3 good" in page.locator("#evaluation-section").inner_text()

    for group in second.get_by_role("group").all():
        group.get_by_label("1 poor").check()
    second.get_by_role("button", name="Send my evaluation").click()
    second.wait_for_load_state()
    assert second.get_by_role("heading", level=1).inner_text() == "This has changed meanwhile"
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, portal.url, "carol", PASSWORD)  # the laboratory reads it on the order
    page.goto(f"{portal.url}/staff/orders/{order}")
    feedback = page.get_by_role("region", name="The customer's evaluation").inner_text()
    assert "3 good" in feedback and "Fast and clear." in feedback
    # the laboratory's public rating counts the one evaluation (shown where customers book)
    page.goto(f"{portal.url}/my/orders/new?capability={cmc_id}")
    rating = page.get_by_role("region", name="Customer evaluations")
    assert "1 evaluations" in rating.inner_text()
    timeliness = rating.get_by_role("row", name="Timeliness")
    assert timeliness.get_by_role("cell").all_inner_texts() == ["3.00", "0", "0", "1", "0", "0"]


@pytest.mark.viewport(390, 844)
def test_order_pages_fit_a_phone_and_read_in_chinese(page: Any, portal: Any) -> None:
    order = STATE["order"]
    sign_in(page, portal.url, "frank", PASSWORD)
    for url in ("/my", f"/my/orders/{order}", f"/my/complaints/{STATE['complaint']}"):
        page.goto(f"{portal.url}{url}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, url
    assert_accessible(page)
    page.get_by_role("link", name="中文").click()
    page.wait_for_url(f"{portal.url}/my/complaints/{STATE['complaint']}")
    assert page.get_by_role("heading", level=1).inner_text().startswith(
        f"投诉 {STATE['complaint']}")
    page.goto(f"{portal.url}/my/orders/{order}")
    assert "已完成" in page.get_by_role("heading", level=1).inner_text()
    assert "您的评价" in page.inner_text("main")
    page.goto(f"{portal.url}/my")
    assert page.get_by_role("heading", name="我的委托单").is_visible()


def test_a_question_is_free_and_answered_by_the_laboratory(page: Any, portal: Any,
                                                           cmc_id: int) -> None:
    sign_in(page, portal.url, "frank", PASSWORD)
    page.goto(f"{portal.url}/my/orders/new?capability={cmc_id}")
    page.get_by_role("button", name="Send the question").click()
    assert "write your question" in page.locator("#question-error").inner_text()
    page.get_by_label("Your question").fill("Can you calibrate at 1 kV with 5 µV/V?")
    page.get_by_role("button", name="Send the question").click()
    page.wait_for_url("**/my/orders/*?asked=1")
    question = _order_id(page)
    assert "Quote" not in page.inner_text("main")  # information carries no quote
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, portal.url, "bob", PASSWORD)  # any staff of the laboratory answers
    page.goto(f"{portal.url}/staff/orders?status=requested&kind=information")
    assert page.get_by_role("link", name="To quote (1)").is_visible()  # questions only
    page.get_by_role("link", name=f"Order {question}").click()
    assert page.get_by_role("button", name="Send the quote").count() == 0
    assert page.get_by_role("button", name="Reject the request").is_disabled()  # approver's
    page.get_by_label("Answer", exact=True).fill("Yes: 1000 V with U = 5.2 µV/V (k = 2).")
    page.get_by_role("button", name="Send the answer").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, portal.url, "frank", PASSWORD)
    page.goto(f"{portal.url}/my/orders/{question}")
    assert "Completed" in page.get_by_role("heading", level=1).inner_text()
    assert "U = 5.2 µV/V" in page.inner_text("main")
    assert "Answered" in page.locator("ol.steps").inner_text()


def test_customer_cancels_with_a_reason_and_a_late_step_changes_nothing(
        page: Any, portal: Any, cmc_id: int) -> None:
    sign_in(page, portal.url, "frank", PASSWORD)
    page.goto(f"{portal.url}/my/orders/new?capability={cmc_id}")
    page.get_by_label("Description").fill("Handheld multimeter")
    page.get_by_label("Serial number").fill("HH-0001")
    page.get_by_role("button", name="Book the calibration").click()
    page.wait_for_load_state()
    assert "booked=1" in page.url, page.inner_text("main")
    order = _order_id(page)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    page.once("dialog", lambda dialog: dialog.accept())  # "Cancel this order?"
    page.get_by_role("button", name="Cancel the order").click()  # no reason given
    assert "why you cancel" in page.locator("#reason-error").inner_text()
    page.get_by_label("Why do you cancel?").fill("Bought a new one instead.")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel the order").click()
    page.wait_for_url(f"{portal.url}/my/orders/{order}")
    assert "Cancelled" in page.get_by_role("heading", level=1).inner_text()
    assert "Bought a new one instead." in page.inner_text("main")
    steps_before = page.locator("ol.steps").inner_text()
    # a step out of turn (the quote of a cancelled order) is refused and changes nothing
    r = page.request.post(f"{portal.url}/my/orders/{order}/accept", form={"csrf": csrf},
                          headers={"Accept": "text/html"})
    assert r.status == 409 and "This has changed meanwhile" in r.text()
    assert f"Order {order} is now “Cancelled”, so this step cannot be taken" in r.text()
    r = page.request.post(f"{portal.url}/my/orders/{order}/accept", form={"csrf": csrf},
                          headers={"Accept": "text/html", "Accept-Language": "zh-CN"})
    assert r.status == 409 and f"订单 {order} 当前状态为“已取消”" in r.text()
    page.reload()
    assert page.locator("ol.steps").inner_text() == steps_before
    assert page.get_by_role("button", name="Cancel the order").count() == 0


def test_a_complaint_about_a_laboratory_without_an_order(page: Any, portal: Any) -> None:
    sign_in(page, portal.url, "frank", PASSWORD)
    page.goto(f"{portal.url}/my/complaints")
    page.get_by_role("link", name="File a complaint about a laboratory").click()
    page.get_by_label("Laboratory").select_option(label="Acme Calibration Laboratory")
    page.get_by_label("Subject").fill("Phone not answered")
    page.get_by_label("What went wrong?").fill("Nobody answered the phone for two days.")
    page.get_by_role("button", name="File the complaint").click()
    page.wait_for_url("**/my/complaints/*?filed=1")
    facts = page.locator("dl.facts").inner_text()
    assert "Acme Calibration Laboratory" in facts and "Order" not in facts
    page.goto(f"{portal.url}/my/complaints")
    assert page.locator("tbody tr").count() == 2


def test_a_person_of_two_customers_chooses_whom_they_book_for(
        page: Any, portal: Any, cmc_id: int, other_customer: str) -> None:
    portal.api.call("POST", "/organisations", who="admin", body={
        "code": "CUST3", "name": "Third Sensors GmbH", "level": "industry",
        "parent_code": "PROV"})
    portal.api.call("POST", f"/users/{other_customer}/roles", who="admin",
                    body={"organisation_code": "CUST3", "role": "customer"})
    sign_in(page, portal.url, other_customer, PASSWORD)
    page.goto(f"{portal.url}/my/orders/new?capability={cmc_id}")
    page.get_by_label("Description").fill("Pressure transmitter readout")
    page.get_by_label("Serial number").fill("PT-77")
    page.get_by_role("button", name="Book the calibration").click()
    assert "organisation you book for" in page.locator("#customer_code-error").inner_text()
    page.get_by_label("Booked for").select_option(label="Third Sensors GmbH")
    page.get_by_role("button", name="Book the calibration").click()
    page.wait_for_url("**/my/orders/*?booked=1")
    page.goto(f"{portal.url}/my/orders")
    assert "Order" in page.locator("tbody").inner_text()
