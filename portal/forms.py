from allauth.account.forms import SignupForm


class CustomerSignupForm(SignupForm):
    pass
