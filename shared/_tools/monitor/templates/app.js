// The operator's token lives in this tab only (sessionStorage) and rides along
// in each form when it is submitted; nothing else on the page needs script.
const box = document.getElementById('token');
if (box) {
  box.value = sessionStorage.getItem('lookout-token') || '';
  box.addEventListener('input', () => sessionStorage.setItem('lookout-token', box.value));
  document.querySelectorAll('form[method="post"]').forEach((form) => {
    form.addEventListener('submit', () => { form.elements.token.value = box.value; });
  });
}
const every = new URLSearchParams(location.search).get('refresh');
if (every) setTimeout(() => location.reload(), Math.max(2, Number(every)) * 1000);
