"""The service desk: orders, complaints and evaluations (the customer's side of the platform
and the laboratory's queues).

- :mod:`~labctl.platform.desk.orders`: book, quote, accept, pay, receive, start, link the
  certificate, complete; information requests answered; cancel, reject;
- :mod:`~labctl.platform.desk.complaints`: file, assign an independent handler, investigate,
  answer, close;
- :mod:`~labctl.platform.desk.evaluations`: five-dimension evaluation once per completed
  order, and each laboratory's public rating.

Who may act is decided in :mod:`labctl.platform.accounts.policy` (the same calls for the API
and the pages); every write is one transaction ending in its audit event.
"""

from labctl.platform.desk.complaints import (
    answer_complaint,
    assign_handler,
    close_complaint,
    complaint_by_id,
    complaint_public,
    eligible_handlers,
    file_complaint,
    list_complaints,
    start_investigation,
)
from labctl.platform.desk.evaluations import (
    evaluate_order,
    evaluation_of,
    evaluation_public,
    laboratory_rating,
)
from labctl.platform.desk.orders import (
    accept_quote,
    allowed_steps,
    answer_request,
    book_order,
    cancel_order,
    check_step,
    complete_order,
    link_certificate,
    linkable_certificates,
    linked_certificate,
    list_orders,
    order_by_id,
    order_public,
    orders_awaiting_certificate,
    queue_counts,
    quote_order,
    receive_item,
    record_payment,
    reject_order,
    start_work,
)

__all__ = ["accept_quote", "allowed_steps", "answer_complaint", "answer_request", "assign_handler",
           "book_order", "cancel_order", "check_step", "close_complaint", "complaint_by_id",
           "complaint_public", "complete_order", "eligible_handlers", "evaluate_order",
           "evaluation_of", "evaluation_public", "file_complaint", "laboratory_rating",
           "link_certificate", "linkable_certificates", "linked_certificate", "list_complaints",
           "list_orders", "order_by_id", "order_public", "orders_awaiting_certificate",
           "queue_counts", "quote_order", "receive_item", "record_payment", "reject_order",
           "start_investigation", "start_work"]
