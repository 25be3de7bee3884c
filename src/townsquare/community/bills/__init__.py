"""Fee bills (物业费, 水电): the property issues bills per household (sheet import or per-room
rules), household members see and pay them in the cashier, overdue reminders go out through
subscribed messages, and the property sees what was collected and what is outstanding."""
